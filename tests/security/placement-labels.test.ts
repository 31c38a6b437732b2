/**
 * Placement labels from untrusted clients (createProject requiredLabels, CreateRunInput.requiredLabels):
 * many labels, huge labels and odd characters are refused with BAD_USER_INPUT and a bounded message
 * that says what a label is; nothing is stored.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateLabelledProjectDocument, CreateRunDocument, ProjectsDocument, RunsDocument } from '../../src/client/generated/graphql.js';
import { normalizeLabels, ConfigError, MAX_LABELS } from '../../src/config.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { createProject, expectGraphQLError } from '../api/api-helpers.js';

describe('placement labels from a client', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ disableWorker: true });
  });
  afterAll(() => t.close());

  const HOSTILE: Array<[what: string, labels: string[]]> = [
    ['more labels than a machine has', Array.from({ length: 5000 }, (_, i) => `l${i}`)],
    ['a 200 KB label', ['g'.repeat(200_000)]],
    ['thousands of bad labels', Array.from({ length: 3000 }, (_, i) => `BAD ${i}`)],
    ['escape sequences and markup', ['\u001b]52;c;aGk=\u0007', '<script>alert(1)</script>', '../..', '']],
  ];

  for (const [what, labels] of HOSTILE) {
    it(`createProject refuses ${what} with a short message, storing nothing`, async () => {
      const before = (await t.client.request(ProjectsDocument)).projects;
      const error = await expectGraphQLError(
        t.client.request(CreateLabelledProjectDocument, { name: `labels-${before.length}`, localPath: join(t.dir, `labels-${before.length}`), requiredLabels: labels }),
        'BAD_USER_INPUT',
        'requiredLabels',
      );
      expect(error.message.length).toBeLessThan(1000);
      expect((await t.client.request(ProjectsDocument)).projects).toEqual(before);
    });

    it(`createRun refuses ${what} with a short message, storing nothing`, async () => {
      const project = await createProject(t);
      const before = (await t.client.request(RunsDocument, { projectId: project.id })).runs;
      const error = await expectGraphQLError(
        t.client.request(CreateRunDocument, { input: { projectId: project.id, goal: 'placed', requiredLabels: labels } }),
        'BAD_USER_INPUT',
        'input.requiredLabels',
      );
      expect(error.message.length).toBeLessThan(1000);
      expect((await t.client.request(RunsDocument, { projectId: project.id })).runs).toEqual(before);
    });
  }

  it('WORKER_LABELS is held to the same bounds', () => {
    expect(normalizeLabels(Array.from({ length: MAX_LABELS }, (_, i) => `l${i}`), 'WORKER_LABELS')).toHaveLength(MAX_LABELS);
    expect(() => normalizeLabels(Array.from({ length: MAX_LABELS + 1 }, (_, i) => `l${i}`), 'WORKER_LABELS')).toThrow(ConfigError);
    expect(() => normalizeLabels(['x'.repeat(100_000)], 'WORKER_LABELS')).toThrow(/^.{0,1000}$/s);
  });
});
