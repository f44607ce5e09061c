// SPDX-License-Identifier: Apache-2.0
/**
 * POST /identity/token: the IAM API-key exchange. The caller proves itself with the API key in the
 * body (not an Authorization header), so this route authenticates through `auth.apiKey` and the
 * issued token is what v2 produce and Bearer callers present afterwards.
 */
import { APIKEY_GRANT_TYPE } from '../iam';
import { iamError, mediaType, parseQuery, readRequestBody, type RequestContext, send } from '../http';
import { applyFault } from './dev';
import { IAM_MAX_BODY } from '../limits';

const NO_STORE = { 'cache-control': 'no-store' };

export function iamToken(ctx: RequestContext): void {
  const { req, res, deps } = ctx;
  readRequestBody(
    ctx,
    IAM_MAX_BODY,
    () => iamError(res, 413, 'BXNIM0413E', 'Request body too large', NO_STORE),
    (body) => {
      const text = body.toString('utf8');
      let params: Map<string, string>;
      try {
        if (mediaType(req.headers['content-type']) === 'application/json') {
          // IAM wants a form body; JSON is accepted too because it costs nothing (lenient).
          const json = JSON.parse(text) as Record<string, unknown>;
          params = new Map(
            Object.entries(json ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string'),
          );
        } else {
          params = parseQuery(text);
        }
      } catch {
        return iamError(res, 400, 'BXNIM0109E', 'Property missing or empty.', NO_STORE);
      }
      const grant = params.get('grant_type');
      if (grant !== APIKEY_GRANT_TYPE) {
        // The exact IAM code for an unsupported grant is a GAP; this one is plausible.
        return iamError(res, 400, 'BXNIM0103E', 'Unsupported grant type.', NO_STORE);
      }
      const apikey = params.get('apikey');
      if (!apikey) return iamError(res, 400, 'BXNIM0109E', 'Property missing or empty: apikey.', NO_STORE);
      const principal = deps.auth.apiKey(apikey);
      if (!principal) {
        return iamError(res, 400, 'BXNIM0415E', 'Provided API key could not be found', NO_STORE);
      }
      // Faults apply once the caller has proven its key (never to anonymous requests).
      applyFault(ctx, 'iam', 'iam', () =>
        send(res, 200, JSON.stringify(deps.tokens.issue(principal.id)), {
          'cache-control': 'no-store',
          pragma: 'no-cache',
        }),
      );
    },
  );
}

/** GET /identity/keys: the JWKS of the signing key (IBM IAM publishes its keys at the same path). */
export function iamKeys(ctx: RequestContext): void {
  send(ctx.res, 200, JSON.stringify(ctx.deps.tokens.jwks()), { 'cache-control': 'max-age=60' });
}
