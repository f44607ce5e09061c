// SPDX-License-Identifier: Apache-2.0
/**
 * The Schema Registry route family: IBM's `/artifacts` and `/rules` API and the
 * Confluent-compatible `/confluent` API, answered by ../registry-routes.ts on the endpoint's
 * registry. Every credential the endpoint accepts may read here (Basic `token:<key>` is what
 * Confluent clients send); changes need a manager credential.
 */
import { v1Error, type RequestContext } from '../http';
import { actorOf } from '../registry';
import { handleRegistry } from '../registry-routes';

export { isRegistryPath } from '../registry-routes';

export function routeRegistry(ctx: RequestContext): void {
  const { req, res, deps } = ctx;
  deps.counts.other++;
  const registry = deps.registry;
  if (registry === undefined) return v1Error(res, 404, 'Not Found');
  registry.then(
    (r) =>
      handleRegistry(
        {
          registry: r,
          authenticate: (x) => {
            const p = deps.auth.authenticate(x);
            return typeof p === 'string' ? undefined : { role: p.role, actor: actorOf(p) };
          },
          log: deps.log,
        },
        req,
        res,
        ctx.pathname,
        ctx.method,
      ),
    () => {
      req.resume();
      v1Error(res, 503, 'The schema registry is unavailable');
    },
  );
}
