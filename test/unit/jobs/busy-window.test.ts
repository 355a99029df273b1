import { expect } from 'chai';
import { BusyWindow } from '../../../internal/jobs/busy-window.js';

describe('jobs/BusyWindow', () => {
  it('is busy once the work in the last window reaches the threshold, and idle after it', () => {
    let now = 10_000;
    const window = new BusyWindow(1_000, 0.5, () => now);
    expect(window.busy()).to.equal(false);
    window.record(300);
    now += 100;
    expect(window.busy()).to.equal(false);
    window.record(250);
    expect(window.busy()).to.equal(true);
    // Work ages out of the window.
    now += 1_000;
    expect(window.busy()).to.equal(false);
  });

  it('counts only the part of a long span that falls inside the window', () => {
    let now = 10_000;
    const window = new BusyWindow(1_000, 0.5, () => now);
    window.record(5_000);
    expect(window.busy()).to.equal(true);
    now += 600;
    // 400 ms of it remain in the window.
    expect(window.busy()).to.equal(false);
  });

  it('stays idle beside a steady trickle of short batches', () => {
    let now = 10_000;
    const window = new BusyWindow(1_000, 0.5, () => now);
    for (let i = 0; i < 50; i += 1) {
      now += 100;
      window.record(20);
      expect(window.busy()).to.equal(false);
    }
  });
});
