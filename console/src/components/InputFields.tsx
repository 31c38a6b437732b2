/**
 * A workflow's declared inputs as form fields: text for a string, a number field, a checkbox for a
 * boolean, a list for a choice; defaults filled in, required inputs marked, descriptions as help.
 * The server judges the values (createRun answers BAD_USER_INPUT with a problem per input); the
 * form only turns what was typed into JSON and shows each problem beside its field.
 */
import type { ConsoleWorkflowFragment } from '../../../src/client/generated/graphql';
import { formatValue } from '../format';

export type WorkflowInput = ConsoleWorkflowFragment['inputs'][number];

/** What the user typed or ticked, by input name (inputs left alone are not in it). */
export type InputValues = Record<string, string | boolean>;

/** The value a field shows: what the user entered for it, else the input's default. */
export function fieldValue(input: WorkflowInput, values: InputValues): string | boolean {
  const entered = values[input.name];
  if (input.type === 'BOOLEAN') return typeof entered === 'boolean' ? entered : input.default === true;
  if (typeof entered === 'string') return entered;
  return input.default == null ? '' : String(input.default);
}

/** Needs a value from the run: required, and no default to fall back on. */
export function mustBeGiven(input: WorkflowInput): boolean {
  return input.required && input.default == null;
}

/**
 * The inputs as createRun takes them: empty fields are left out (the server applies the default or
 * says the input is required), numbers are sent as numbers when they read as one (otherwise as
 * typed, for the server to name the problem), booleans always.
 */
export function inputsToSend(inputs: readonly WorkflowInput[], values: InputValues): Record<string, string | number | boolean> {
  const sent: Record<string, string | number | boolean> = {};
  for (const input of inputs) {
    const value = fieldValue(input, values);
    if (typeof value === 'boolean') {
      sent[input.name] = value;
      continue;
    }
    if (value.trim() === '') continue;
    if (input.type === 'NUMBER') {
      const number = Number(value.trim());
      sent[input.name] = Number.isFinite(number) ? number : value;
    } else {
      sent[input.name] = value;
    }
  }
  return sent;
}

/** The id of an input's field (and, with a suffix, of its hint and error). */
export const inputFieldId = (prefix: string, name: string) => `${prefix}-input-${name}`;

export function InputFields({
  inputs,
  values,
  errors,
  idPrefix,
  onChange,
}: {
  inputs: readonly WorkflowInput[];
  values: InputValues;
  /** Problems by input name. */
  errors: Readonly<Record<string, string>>;
  idPrefix: string;
  /** `unreadable`: a number field holds text the browser cannot read as a number. */
  onChange: (name: string, value: string | boolean, unreadable?: boolean) => void;
}) {
  return (
    <>
      {inputs.map((input) => {
        const id = inputFieldId(idPrefix, input.name);
        const error = errors[input.name];
        const described = [input.description || input.default != null ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
        const value = fieldValue(input, values);
        const common = {
          id,
          name: `input-${input.name}`,
          'aria-invalid': Boolean(error),
          'aria-describedby': described,
          'aria-required': mustBeGiven(input) || undefined,
          'data-input': input.name,
        };
        const hint =
          input.description || input.default != null ? (
            <span className="hint" id={`${id}-hint`}>
              {input.description}
              {input.default != null && input.type !== 'BOOLEAN' ? (
                <span className="muted">
                  {input.description ? ' ' : ''}(default {formatValue(input.default)})
                </span>
              ) : null}
            </span>
          ) : null;
        const errorText = error ? (
          <span className="field-error" id={`${id}-error`} data-error-for={input.name}>
            {error}
          </span>
        ) : null;

        if (input.type === 'BOOLEAN') {
          return (
            <div className="field" key={input.name}>
              <label className="checkbox" htmlFor={id}>
                <input type="checkbox" {...common} checked={value === true} onChange={(e) => onChange(input.name, e.target.checked)} />
                <span className="label">
                  <code>{input.name}</code>
                </span>
              </label>
              {hint}
              {errorText}
            </div>
          );
        }
        return (
          <div className="field" key={input.name}>
            <label className="label" htmlFor={id}>
              <code>{input.name}</code> <span className="muted">({mustBeGiven(input) ? 'required' : 'optional'})</span>
            </label>
            {input.type === 'CHOICE' ? (
              <select {...common} value={String(value)} onChange={(e) => onChange(input.name, e.target.value)}>
                {input.default == null ? <option value="">{mustBeGiven(input) ? 'Choose…' : '(none)'}</option> : null}
                {(input.options ?? []).map((option) => (
                  <option key={option} value={option}>
                    {option}
                  </option>
                ))}
              </select>
            ) : input.type === 'NUMBER' ? (
              <input
                {...common}
                type="number"
                step="any"
                className="input-short"
                value={String(value)}
                onChange={(e) => onChange(input.name, e.target.value, e.target.validity.badInput)}
              />
            ) : (
              <input {...common} type="text" value={String(value)} onChange={(e) => onChange(input.name, e.target.value)} autoComplete="off" spellCheck={false} />
            )}
            {hint}
            {errorText}
          </div>
        );
      })}
    </>
  );
}
