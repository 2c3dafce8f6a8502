import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ConsoleLevel, createLocalConsole, flattenFields } from '../../local/local-console.ts';
import { runIdFor } from '../../shared/core/run-identity.ts';

function consoleAt(level: ConsoleLevel) {
  const lines: string[] = [];
  const log = createLocalConsole({
    level,
    colour: false,
    write: (line) => lines.push(line),
    now: () => new Date(2025, 5, 1, 12, 0, 0, 5),
  });
  return { log, lines };
}

const json = (entry: Record<string, unknown>) =>
  JSON.stringify({ time: '2025-06-01T09:00:00.123Z', ...entry });
const TIME_AND_LEVEL = /^\d{2}:\d{2}:\d{2}\.\d{3} (DEBUG|INFO |WARN |ERROR) /;

describe('the npm start console (local/local-console.ts)', () => {
  it('puts the time and the level word on every line, whatever its source', () => {
    const { log, lines } = consoleAt('debug');
    log.functionLine(
      'execute',
      json({ level: 'INFO', msg: 'start handled', runId: 'r1', outcome: 'started' }),
    );
    log.functionLine('check!', 'node: a warning on stderr');
    log.functionLine('cancel', 'plain text');
    log.emulatorLine('POST /datasphere/v2/projects/p:execute 200');
    log.say('warn', 'local', 'hello', { port: 8080 });
    log.queued('execute', 'm1', '{}');
    assert.equal(lines.length, 6);
    for (const line of lines) assert.match(line, TIME_AND_LEVEL, line);
    assert.match(lines[1] ?? '', /WARN {2}check +node: a warning on stderr/);
    assert.match(lines[3] ?? '', /DEBUG emulator +POST \/datasphere/);
    assert.match(lines[4] ?? '', /WARN {2}local +hello {2}port=8080$/);
  });

  it('shows nested fields, so a refused request or start says why', () => {
    const { log, lines } = consoleAt('info');
    log.functionLine(
      'execute',
      json({
        level: 'WARN',
        msg: 'request failed',
        request_id: 'req-1',
        code: 'INVALID_REQUEST',
        status: 400,
        error: {
          name: 'InvalidRequestError',
          code: 'INVALID_REQUEST',
          message: 'notebookId: must not be empty',
          details: { field: 'notebookId' },
        },
      }),
    );
    log.functionLine(
      'execute',
      json({
        level: 'ERROR',
        msg: 'run start rejected',
        runId: 'r2',
        error: { code: 'API_ERROR', message: 'Project not found', api: { rpcCode: 5, requestId: 'x-1' } },
      }),
    );
    assert.match(
      lines[0] ?? '',
      /WARN {2}execute +request failed {2}code=INVALID_REQUEST {2}status=400 {2}error\.name=InvalidRequestError/,
    );
    assert.match(
      lines[0] ?? '',
      /error\.message="notebookId: must not be empty" {2}error\.details\.field=notebookId/,
    );
    assert.ok(!(lines[0] ?? '').includes('req-1'), 'the request id is frame, not content');
    assert.match(
      lines[1] ?? '',
      /ERROR execute +run start rejected .*error\.message="Project not found" {2}error\.api\.rpcCode=5/,
    );
  });

  it('gives each change of a run a line a person can follow', () => {
    const { log, lines } = consoleAt('info');
    const fields = { runId: 'r3', projectId: 'p', notebookId: 'nb.ipynb', trigger: 'http' };
    log.functionLine('execute', json({ level: 'INFO', msg: 'run claimed', status: 'STARTING', ...fields }));
    log.functionLine(
      'execute',
      json({
        level: 'INFO',
        msg: 'run status changed',
        status: 'RUNNING',
        previousStatus: 'STARTING',
        ...fields,
      }),
    );
    log.functionLine(
      'check',
      json({
        level: 'WARN',
        msg: 'run status changed',
        status: 'FAILED',
        previousStatus: 'RUNNING',
        executionStatus: 'ERROR',
        error: { code: 'EXECUTION_ERROR', message: 'cell 4 raised' },
        ...fields,
      }),
    );
    log.functionLine(
      'check',
      json({
        level: 'INFO',
        msg: 'run finished',
        status: 'FAILED',
        durationSeconds: 5.7,
        checks: 2,
        run: { runId: 'r3' },
        ...fields,
      }),
    );
    assert.match(lines[0] ?? '', /INFO {2}execute +run r3 {2}new, STARTING {2}p nb\.ipynb \(http\)$/);
    assert.match(lines[1] ?? '', /run r3 {2}STARTING → RUNNING {2}p nb\.ipynb \(http\)$/);
    assert.match(
      lines[2] ?? '',
      /WARN {2}check +run r3 {2}RUNNING → FAILED .* executionStatus=ERROR {2}error\.code=EXECUTION_ERROR/,
    );
    assert.match(lines[3] ?? '', /run r3 {2}finished FAILED after 5\.7 s, 2 checks: reported$/);
    // An open run has no notebook: the line names its action.
    log.functionLine(
      'execute',
      json({
        level: 'INFO',
        msg: 'run claimed',
        status: 'STARTING',
        runId: 'r4',
        projectId: 'p',
        action: 'open',
        trigger: 'queue',
      }),
    );
    assert.match(lines[4] ?? '', /run r4 {2}new, STARTING {2}p open \(queue\)$/);
  });

  it('keeps the emulator request lines and idle sweeps for debug', () => {
    const { log, lines } = consoleAt('info');
    log.emulatorLine('GET /operations/op1 200');
    log.functionLine('check', json({ level: 'DEBUG', msg: 'detail' }));
    log.functionLine('check', json({ level: 'INFO', msg: 'sweep done', due: 1, finished: 0, failures: 0 }));
    log.functionLine('check', json({ level: 'INFO', msg: 'sweep done', due: 2, finished: 1, failures: 0 }));
    log.emulatorLine('emulator error: boom');
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines[0] ?? '', /INFO {2}check +sweep done {2}due=2 {2}finished=1/);
    assert.match(lines[1] ?? '', /ERROR emulator +emulator error: boom/);
  });

  it('names the run a queue message started, also when the message carries its own idempotency key', () => {
    const { log, lines } = consoleAt('info');
    log.queued('execute', 'msg-1', JSON.stringify({ projectId: 'p', notebookId: 'nb' }));
    log.queued(
      'execute',
      'msg-2',
      JSON.stringify({ projectId: 'p', notebookId: 'nb', idempotencyKey: 'k-7' }),
    );
    log.queued('execute', 'msg-3', 'not json');
    const first = runIdFor('queue:msg-1');
    const second = runIdFor('key:k-7');
    log.functionLine(
      'execute',
      json({ level: 'INFO', msg: 'start handled', runId: second, outcome: 'started', status: 'RUNNING' }),
    );
    log.functionLine(
      'execute',
      json({ level: 'INFO', msg: 'start handled', runId: first, outcome: 'existing', status: 'RUNNING' }),
    );
    log.functionLine(
      'execute',
      json({
        level: 'ERROR',
        msg: 'queue message dropped: it can never succeed',
        messageId: 'msg-3',
        code: 'INVALID_REQUEST',
      }),
    );
    const queueLines = lines.filter((l) => / queue /.test(l));
    assert.match(queueLines[0] ?? '', /message msg-1 queued for execute/);
    assert.ok(
      queueLines.some((l) => l.includes(`message msg-2: started run ${second} (RUNNING)`)),
      lines.join('\n'),
    );
    assert.ok(
      queueLines.some((l) => l.includes(`message msg-1: existing run ${first} (RUNNING)`)),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) =>
        /ERROR execute +queue message dropped: it can never succeed {2}messageId=msg-3/.test(l),
      ),
    );
  });

  it('flattens arrays and deep objects into key paths', () => {
    assert.deepEqual(flattenFields({ a: { b: [1, { c: 'x y' }] }, empty: '', none: null }), [
      'a.b[0]=1',
      'a.b[1].c="x y"',
    ]);
  });
});
