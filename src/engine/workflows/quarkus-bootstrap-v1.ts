import type { WorkflowDefinition } from '../types.js';

const PLANNER_PROMPT = `You are a senior Java architect planning a new service.

Goal: {goal}

Write a project plan in Markdown for a Quarkus application built with Maven that exposes a GraphQL
API (SmallRye GraphQL) and is instrumented with OpenTelemetry. Cover:
1. An overview of what the service does and its main GraphQL types, queries and mutations.
2. The Maven coordinates, the Quarkus version and every extension or dependency needed
   (GraphQL, OpenTelemetry, testing with JUnit 5 and REST Assured).
3. The package layout and each source file to create, with its purpose.
4. Configuration in application.properties, including the OpenTelemetry exporter settings.
5. The tests to write and what each one checks, so that \`mvn test\` proves the service works.
Keep it concrete: another engineer will generate the code from this plan alone.`;

const CODER_PROMPT = `You are a senior Java engineer. Generate a complete, compilable Maven project for this goal.

Goal: {goal}

Follow this plan:
{output:planner}

Requirements:
- A pom.xml at the project root using the Quarkus BOM, with the GraphQL (SmallRye) and OpenTelemetry
  extensions, JUnit 5 and REST Assured for tests, and the Quarkus Maven plugin.
- Java sources under src/main/java, src/main/resources/application.properties, and tests under
  src/test/java that pass with \`mvn test\`.
- Output every file, whole, in exactly this format and nothing else between files:

=== FILE: relative/path/to/File.ext ===
<the file's full content>
=== END FILE ===

Paths are relative to the project root. Do not use absolute paths or "..".`;

/** The seed's built-in workflow: plan, generate a Quarkus Maven project, run its tests. */
export const quarkusBootstrapV1: WorkflowDefinition = {
  name: 'quarkus-bootstrap-v1',
  version: '1.0.0',
  description: 'Generates a complete Quarkus project with GraphQL and OpenTelemetry support, then runs its tests with Maven.',
  steps: [
    {
      name: 'planner',
      type: 'LLM_GENERATE',
      description: 'Create project plan using {model}',
      model: 'gemma3:27b',
      prompt: PLANNER_PROMPT,
      outputFile: 'PLAN.md',
      saveArtifact: true,
    },
    {
      name: 'coder',
      type: 'LLM_GENERATE',
      description: 'Generate Maven project files using {model}',
      model: 'qwen3-coder:latest',
      prompt: CODER_PROMPT,
      outputFile: 'project_files.txt',
      extractFiles: true,
      saveArtifact: true,
    },
    {
      name: 'maven_test',
      type: 'MAVEN_COMMAND',
      description: 'Run the Maven tests',
      command: 'mvn test',
      saveArtifact: true,
    },
  ],
};
