/**
 * Serves the test suite's fake Ollama on a port, for trying agent-runner (the demo, GraphiQL) on a
 * machine without Ollama: `npx tsx scripts/fake-ollama.ts [port]` (11434 by default), then start
 * the server with OLLAMA_BASE_URL=http://127.0.0.1:<port>. The planner streams a short plan and the
 * coder answers with a small Maven project in `=== FILE: … ===` blocks. Two reasoning models stream
 * their reasoning before the same plan: `qwen3:8b` in Ollama's `thinking` field (when the step sets
 * `think`), `deepseek-r1:8b` inline as `<think>…</think>` (always). Asked as an agent (a chat with
 * tools), qwen3-coder lists the project, writes NOTES.md, runs `ls -la` and finishes. It is not a model.
 */
import { conversationScript, startFakeOllama } from '../tests/helpers/fake-ollama.js';

const port = Number(process.argv[2] ?? 11434);

const PLAN = `# Plan: Quarkus GraphQL + OpenTelemetry service

1. Maven project \`org.acme:greeting\` on the Quarkus BOM.
2. Extensions: quarkus-smallrye-graphql, quarkus-opentelemetry, quarkus-junit5, rest-assured.
3. \`GreetingResource\`: a GraphQL query \`hello(name)\`.
4. A test that calls the query through /graphql.
`;

const FILES = `Here is the project.

=== FILE: pom.xml ===
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>org.acme</groupId>
  <artifactId>greeting</artifactId>
  <version>1.0.0-SNAPSHOT</version>
</project>
=== END FILE ===

=== FILE: src/main/java/org/acme/GreetingResource.java ===
package org.acme;

import org.eclipse.microprofile.graphql.GraphQLApi;
import org.eclipse.microprofile.graphql.Query;

@GraphQLApi
public class GreetingResource {
    @Query
    public String hello(String name) {
        return "Hello " + name;
    }
}
=== END FILE ===

=== FILE: src/test/java/org/acme/GreetingResourceTest.java ===
package org.acme;

class GreetingResourceTest {
}
=== END FILE ===
`;

const REASONING = `The goal asks for a Quarkus service with GraphQL and OpenTelemetry.
Maven is the build, so the plan starts with the coordinates and the extensions.
Should the plan include the test? Yes: mvn test must prove the query works.
Keep it short: four points.`;

const words = (text: string) => text.match(/\S+\s*/g) ?? [];
const MODELS = ['gemma3:27b', 'qwen3-coder:latest', 'llama2:latest', 'qwen3:8b', 'deepseek-r1:8b'];

const fake = await startFakeOllama({ port, models: MODELS });
fake.script('gemma3:27b', { tokens: words(PLAN), firstByteDelayMs: 1500, tokenDelayMs: 40 });
fake.script('llama2:latest', { tokens: words(PLAN), firstByteDelayMs: 500, tokenDelayMs: 20 });
const agentDemo = conversationScript([
  { tokens: words('Let me see what is in the project first.'), toolCalls: [{ name: 'list_files', arguments: {} }], firstByteDelayMs: 800, tokenDelayMs: 60 },
  { tokens: words('I will leave a note.'), toolCalls: [{ name: 'write_file', arguments: { path: 'NOTES.md', content: '# Notes\n\nWritten by the fake agent.\n' } }], tokenDelayMs: 60 },
  { toolCalls: [{ name: 'run_command', arguments: { command: 'ls -la' } }], firstByteDelayMs: 500 },
  { tokens: words('Done.'), toolCalls: [{ name: 'finish', arguments: { summary: 'Listed the project, wrote NOTES.md and checked it with ls (a scripted fake, not a model).' } }], tokenDelayMs: 60 },
]);
fake.script('qwen3-coder:latest', (req) => (req.path === '/api/chat' && Array.isArray(req.body?.tools) ? agentDemo(req) : { tokens: words(FILES), firstByteDelayMs: 1000, tokenDelayMs: 5 }));
fake.script('qwen3:8b', { thinking: words(REASONING), tokens: words(PLAN), firstByteDelayMs: 1000, tokenDelayMs: 40 });
fake.script('deepseek-r1:8b', { tokens: words(`<think>\n${REASONING}\n</think>\n\n${PLAN}`), firstByteDelayMs: 1000, tokenDelayMs: 40 });
console.log(`Fake Ollama listening on ${fake.url} (models: ${MODELS.join(', ')}). Ctrl-C to stop.`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void fake.close().then(() => process.exit(0)));
