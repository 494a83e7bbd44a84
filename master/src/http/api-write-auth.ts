/**
 * The user API's writes are authenticated before their body is read: a POST, PUT, PATCH or DELETE
 * under `/api/` without the user token as `Authorization: Bearer` is answered 401 `PYTI_AUTH` from
 * an onRequest hook (before content parsing), and the connection is closed, so an unauthenticated
 * client cannot hold it open by sending a body slowly. Each route still has its own guard.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { bearerToken, type TokenAuthority } from '../auth.js';
import { sendApiError } from './body.js';

/** Whether `req` announces a body (Content-Length above 0, or chunked). */
export function hasBody(req: FastifyRequest): boolean {
  const len = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0');
}

export function registerApiWriteAuth(app: FastifyInstance, auth: TokenAuthority): void {
  app.addHook('onRequest', async (req, reply) => {
    if (!req.url.startsWith('/api/') || req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return;
    if (auth.isUser(bearerToken(req.headers.authorization))) return;
    if (hasBody(req)) reply.header('connection', 'close');
    await sendApiError(reply, 401, 'PYTI_AUTH', 'the user token is required (Authorization: Bearer <token>)');
  });
}
