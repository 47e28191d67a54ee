/** The dashboard session: sign in with the admin password or the API key, which sets an HttpOnly cookie. */
import { ApiError, request } from './api.ts';

export interface Session {
  readonly signedIn: true;
  /** When the session ends, ms since the Unix epoch. */
  readonly expiresAt: number;
}

/** The current session, or undefined when signed out. */
export async function currentSession(): Promise<Session | undefined> {
  try {
    return await request<Session>('/dashboard/api/session', { signOutOn401: false });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return undefined;
    throw error;
  }
}

export function signIn(secret: string): Promise<Session> {
  return request<Session>('/dashboard/api/session', {
    method: 'POST',
    body: { secret },
    signOutOn401: false,
  });
}

export async function signOut(): Promise<void> {
  await request<undefined>('/dashboard/api/session', { method: 'DELETE', signOutOn401: false });
}
