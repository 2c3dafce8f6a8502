/**
 * The run ledger's table through the Document API, with the deployer's IAM token as a bearer
 * (storage-and-queues.md). Creation goes through the ledger's own code (`createDocApiLedger`, which
 * creates the table with its index on first use and waits for ACTIVE), so the deploy cannot make a
 * table the functions would refuse.
 */
import { type Dispatcher, request } from 'undici';
import { createDocApiLedger, OPEN_INDEX } from '../shared/ledger/docapi-store.ts';
import type { DocApiTables } from './deploy-context.ts';

export function docApiTables(token: string, dispatcher: Dispatcher): DocApiTables {
  const auth = { kind: 'bearer' as const, token: async () => token };
  return {
    async ensure(endpoint, table) {
      // Any read makes the ledger ensure its table first; a run id that cannot exist reads nothing.
      await createDocApiLedger({ endpoint, table, dispatcher, auth }).get('deploy-table-probe');
    },
    async check(endpoint, table) {
      const response = await request(endpoint, {
        method: 'POST',
        dispatcher,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': 'DynamoDB_20120810.DescribeTable',
        },
        body: JSON.stringify({ TableName: table }),
      });
      const body = (await response.body.json().catch(() => ({}))) as {
        __type?: string;
        message?: string;
        Table?: { TableStatus?: string; GlobalSecondaryIndexes?: { IndexName?: string }[] };
      };
      if (response.statusCode !== 200) {
        if (body.__type?.endsWith('ResourceNotFoundException')) return 'MISSING';
        return `DescribeTable failed: HTTP ${response.statusCode} ${body.__type ?? ''} ${body.message ?? ''}`.trim();
      }
      if (body.Table?.TableStatus !== 'ACTIVE') return `status ${body.Table?.TableStatus ?? '(none)'}`;
      if (!(body.Table.GlobalSecondaryIndexes ?? []).some((i) => i.IndexName === OPEN_INDEX)) {
        return `has no ${OPEN_INDEX} index: not made by this product`;
      }
      return 'ACTIVE';
    },
  };
}
