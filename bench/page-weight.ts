// The place for the web console's page weight, once a function serves that page (issue #12; not built
// yet). When it exists, measure here what a first visit costs and give each figure a budget, e.g.:
//   - the HTML/JS/CSS bytes the function answers, raw and gzip (the page is served by a function, so
//     every byte is also in that function's bundle and its cold start: see the first-invocation rows);
//   - the function's first invocation for GET of the page (bench/first-invocation.ts, one more case);
//   - requests a first visit makes (the page itself, then /runs...).
// Until then it reports that there is nothing to weigh, as information (no budget, no verdict).
import type { Row } from './results-table.ts';
import { info } from './results-table.ts';

export interface PageWeightOptions {
  /** dist/ of the build being measured. */
  readonly distDir: string;
}

/** Rows for the console page; today one line saying there is no page. */
export async function measurePageWeight(_options: PageWeightOptions): Promise<Row[]> {
  return [info('web console page weight', 'no page yet (bench/page-weight.ts is where it goes)')];
}
