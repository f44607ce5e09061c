// SPDX-License-Identifier: Apache-2.0
/**
 * Admin REST consumer groups and records (IBM adminrest.yaml v1.4.0):
 * `GET /admin/consumergroups` (group_filter glob or `/regex/`, per_page, page; X-Total-Count, Link),
 * `GET|PATCH|DELETE /admin/consumergroups/{group_id}` (describe with offsets and lag; reset offsets
 * with `execute:false` as a dry run; delete) and `DELETE /admin/topics/{topic}/records`.
 * The backend does the work: Kafka for real on the Kafka backend; the memory backend has records
 * but no consumer groups.
 */
import {
  checkFilter,
  checkGroupId,
  checkRecordsToDelete,
  checkResetOptions,
  type ResetOffsetsOptions,
} from '../../lib/server-kit';
import { type RequestContext, adminError, adminSend, intParam, parseQuery, readJson } from '../http';
import { DEFAULT_PER_PAGE, MAX_PER_PAGE, validTopicName } from '../limits';
import {
  type AdminRoute,
  adminFailure,
  badInput,
  checkInput,
  pagingHeaders,
  sendJson,
  settle,
} from './admin-common';

/** Routes /admin/consumergroups[/{id}] and /admin/topics/{t}/records; undefined for other paths. */
export function groupRoutes(
  ctx: RequestContext,
  seg: string[],
  decode: (s: string) => string,
): AdminRoute | undefined {
  const { method } = ctx;
  const isGet = method === 'GET' || method === 'HEAD';
  if (seg.length === 3 && seg[2] === 'consumergroups') {
    return { allow: 'GET', ...(isGet ? { handler: () => listGroups(ctx) } : {}) };
  }
  if (seg.length === 4 && seg[2] === 'consumergroups') {
    const id = decode(seg[3]!);
    const route: AdminRoute = { allow: 'GET, PATCH, DELETE', area: 'groups' };
    if (isGet) route.handler = () => describeGroup(ctx, id);
    else if (method === 'PATCH') route.handler = () => resetOffsets(ctx, id);
    else if (method === 'DELETE') route.handler = () => deleteGroup(ctx, id);
    return route;
  }
  if (seg.length === 5 && seg[2] === 'topics' && seg[4] === 'records') {
    const topic = decode(seg[3]!);
    return {
      allow: 'DELETE',
      area: 'records',
      ...(method === 'DELETE' ? { handler: () => deleteRecords(ctx, topic) } : {}),
    };
  }
  return undefined;
}

function listGroups(ctx: RequestContext): void {
  const admin = ctx.deps.backend.admin;
  const params = parseQuery(ctx.query);
  const page = intParam(params, 'page') ?? 1;
  const perPage = intParam(params, 'per_page') ?? DEFAULT_PER_PAGE;
  if (!(page >= 1) || !(perPage >= 1) || perPage > MAX_PER_PAGE) {
    return adminError(ctx, 400, 0, `page must be >= 1 and per_page between 1 and ${MAX_PER_PAGE}`);
  }
  const filter = params.get('group_filter') || undefined;
  if (filter !== undefined) {
    // A glob or a `/regex/` run by RE2 in linear time: never a backtracking RegExp.
    const problem = checkFilter(filter, 'group_filter', 'any');
    if (problem) return adminError(ctx, 400, 0, problem);
  }
  settle(ctx, admin.listGroups(filter !== undefined ? { filter } : {}), ({ groups }) => {
    const total = groups.length;
    adminSend(
      ctx,
      200,
      JSON.stringify(groups.slice((page - 1) * perPage, page * perPage)),
      pagingHeaders(ctx, '/admin/consumergroups', { group_filter: filter }, page, perPage, total),
    );
  });
}

function describeGroup(ctx: RequestContext, id: string): void {
  const admin = ctx.deps.backend.admin;
  if (checkInput(ctx, () => checkGroupId(id)) === undefined) return;
  settle(ctx, admin.describeGroup(id), (detail) => sendJson(ctx, detail));
}

function deleteGroup(ctx: RequestContext, id: string): void {
  const admin = ctx.deps.backend.admin;
  if (checkInput(ctx, () => checkGroupId(id)) === undefined) return;
  settle(ctx, admin.deleteGroup(id), ({ deleted }) => {
    if (!deleted) return adminError(ctx, 404, 0, `consumer group '${id}' does not exist`);
    sendJson(ctx, {}, 202);
  });
}

/** PATCH: `{topic?, mode, value?, execute}` → 200 with the offsets set (or, dry run, to be set). */
function resetOffsets(ctx: RequestContext, id: string): void {
  const admin = ctx.deps.backend.admin;
  readJson(
    ctx,
    (body) => {
      try {
        checkGroupId(id);
        checkResetOptions(body, (t) => {
          if (typeof t !== 'string' || !validTopicName(t)) throw new TypeError('topic');
          return t;
        });
      } catch (err) {
        if (err instanceof TypeError) return adminError(ctx, 400, 0, 'topic is not a valid topic name');
        return badInput(ctx, err);
      }
      settle(ctx, admin.resetGroupOffsets(id, body as unknown as ResetOffsetsOptions), (result) =>
        sendJson(ctx, result),
      );
    },
    (err) => adminFailure(ctx, err),
  );
}

/** DELETE records: `{records_to_delete: [{partition, before_offset}]}` → 202 {}. */
function deleteRecords(ctx: RequestContext, topic: string): void {
  const admin = ctx.deps.backend.admin;
  readJson(
    ctx,
    (body) => {
      const records = checkInput(ctx, () => checkRecordsToDelete(body.records_to_delete));
      if (records === undefined) return;
      settle(ctx, ctx.deps.backend.getTopic(topic), (detail) => {
        if (!detail) return adminError(ctx, 404, 3, `topic '${topic}' does not exist`);
        settle(ctx, admin.deleteRecords(topic, records), () => sendJson(ctx, {}, 202));
      });
    },
    (err) => adminFailure(ctx, err),
  );
}
