import { expect } from 'chai';
import { startPrivateServices, type PrivateServices } from './support/services.js';
import { buildPrograms, prepareDatabase, runScenario } from './support/harness.js';
import { SCENARIOS } from './support/scenarios.js';

/** FAULTS=1,3 runs only those scenarios (quick reruns); unset runs all of them. */
function selected(): Set<number> | null {
  const raw = process.env['FAULTS']?.trim();
  if (raw === undefined || raw === '') return null;
  const ids = new Set(raw.split(',').map((id) => Number(id.trim())));
  const unknown = [...ids].filter((id) => !SCENARIOS.some((s) => s.id === id));
  if (unknown.length > 0) throw new Error(`FAULTS names no scenario ${unknown.join(', ')}`);
  return ids;
}

describe('faults: a 201 is persisted exactly once under its number, whatever fails', function () {
  const only = selected();
  let services: PrivateServices | undefined;

  before(async function () {
    this.timeout(300_000);
    // Each daemon and program hooks process exit to be reaped; a cluster adds three nodes.
    process.setMaxListeners(32);
    // The 3-node cluster only when a selected scenario runs against it.
    const cluster = SCENARIOS.some(
      (s) => s.broker === 'cluster' && (only === null || only.has(s.id)),
    );
    const [started, built] = await Promise.allSettled([
      startPrivateServices({ cluster }),
      buildPrograms(),
    ]);
    if (started.status === 'fulfilled') services = started.value;
    else throw started.reason;
    if (built.status === 'rejected') throw built.reason;
    await prepareDatabase(services);
  });
  after(async function () {
    this.timeout(120_000);
    await services?.stop();
  });

  for (const scenario of SCENARIOS) {
    if (only !== null && !only.has(scenario.id)) continue;
    it(`fault ${scenario.id}: ${scenario.name}`, async function () {
      this.timeout(600_000);
      const result = await runScenario(services!, scenario);
      console.log(`      ${result.line}`);
      const v = result.verdict;
      const detail = `\n${result.line}\n  ${v.examples.join('\n  ')}`;
      expect(result.truncated, `the load hit its time bound: answers stalled${detail}`).to.be.false;
      expect(result.sent, `creates sent${detail}`).to.be.at.least(5_000);
      expect(result.drained, `the queue did not drain${detail}`).to.be.true;
      expect(v.acknowledged, `nothing was acknowledged${detail}`).to.be.greaterThan(0);
      expect(v.lost, `acknowledged creates lost${detail}`).to.equal(0);
      expect(v.duplicated, `duplicates or reissued numbers${detail}`).to.equal(0);
      expect(v.dishonest, `503s that promised nothing persisted, yet it was${detail}`).to.equal(0);
      expect(v.unknownCodes, `503s with a code outside UnavailableCode${detail}`).to.equal(0);
      expect(v.unexpected, `answers other than 201 and 503${detail}`).to.deep.equal({});
      expect(result.loadOutlastedFault, `harness: the fault outlasted the load's bounds${detail}`)
        .to.be.true;
      // Honest 503s are allowed during a fault, not after it: the system must come back.
      expect(result.recovered, `the load's last second was mostly refused${detail}`).to.be.true;
      expect(result.problems, detail).to.deep.equal([]);
    });
  }
});
