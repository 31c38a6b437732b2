/** What a prompt or a FILE_WRITE content can refer to. */
export interface TemplateValues {
  goal: string;
  outputs: ReadonlyMap<string, string>;
}

const PLACEHOLDER = /\{goal\}|\{output:([^{}\s]+)\}/g;

/**
 * Replaces `{goal}` with the run's goal and `{output:STEP}` with the text output of an earlier step
 * ('' when that step has no output). One pass, so text brought in by a substitution is never
 * itself searched for placeholders.
 */
export function renderTemplate(template: string, values: TemplateValues): string {
  return template.replace(PLACEHOLDER, (_match, stepName: string | undefined) =>
    stepName === undefined ? values.goal : (values.outputs.get(stepName) ?? ''),
  );
}
