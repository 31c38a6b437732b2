/** The error codes clients rely on (`extensions.code` of a GraphQL error). */
export type UserErrorCode = 'NOT_FOUND' | 'BAD_USER_INPUT' | 'CONFLICT' | 'UNAUTHENTICATED' | 'SUBSCRIBER_TOO_SLOW';

/**
 * An error meant for the user: its message says what was wrong and what to do. Every other error
 * is internal and is masked before it reaches a client.
 */
export class UserError extends Error {
  constructor(
    readonly code: UserErrorCode,
    message: string,
    /** More for programs, beside `code` in the error's extensions (such as `problems`: each problem apart). */
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'UserError';
  }
}

export const notFound = (message: string) => new UserError('NOT_FOUND', message);
export const badInput = (message: string, extensions?: Record<string, unknown>) => new UserError('BAD_USER_INPUT', message, extensions);
export const conflict = (message: string, extensions?: Record<string, unknown>) => new UserError('CONFLICT', message, extensions);
