import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The web console. `npm start` builds it into console/dist (src/http/console.ts) and the server serves
 * it at `/`; `npm run dev` serves it with hot reload on :5173 and proxies the API to a server started
 * with `npm start` in another terminal (AGENT_RUNNER_URL, default http://127.0.0.1:8000).
 */
const api = process.env.AGENT_RUNNER_URL ?? 'http://127.0.0.1:8000';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [react()],
  clearScreen: false,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1000,
  },
  server: {
    port: 5173,
    strictPort: false,
    // The Host header stays the dev server's (localhost:5173), which is the page's own origin: the
    // server accepts it as same-origin (rewriting Host would make every request look cross-site).
    proxy: {
      '/graphql': { target: api, ws: true },
      '/artifacts': { target: api },
    },
  },
});
