import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * Typed client documents: `npm run codegen` prints schema.graphql from the Pothos schema (no server
 * needed), then generates src/client/generated/ from it and the operations in src/client/operations/.
 */
const config: CodegenConfig = {
  schema: './schema.graphql',
  documents: ['src/client/operations/**/*.graphql'],
  ignoreNoDocuments: false,
  generates: {
    'src/client/generated/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        useTypeImports: true,
        emitLegacyCommonJSImports: false,
        enumsAsTypes: true,
        scalars: { DateTime: 'string', JSON: 'unknown', ID: 'string' },
      },
    },
  },
};

export default config;
