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
  ) {
    super(message);
    this.name = 'UserError';
  }
}

export const notFound = (message: string) => new UserError('NOT_FOUND', message);
export const badInput = (message: string) => new UserError('BAD_USER_INPUT', message);
export const conflict = (message: string) => new UserError('CONFLICT', message);
