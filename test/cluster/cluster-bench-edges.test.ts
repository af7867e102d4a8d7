// How many edges the cluster bench gives a fleet (bench/cluster-bench.ts edgesFor): each under the
// 20,000 open files of a process and the ephemeral ports towards one edge port, at least 2; too few
// asked for is refused naming the number needed. Pure.
import { describe, expect, it } from 'vitest';
import { ClusterBenchError, EDGE_FOBS_MAX, edgesFor } from '../../bench/cluster-bench.js';

describe('edgesFor', () => {
  it('chooses enough edges for the fleet, at least 2', () => {
    expect(edgesFor(6_100, undefined, 28_232)).toBe(2);
    expect(edgesFor(51_100, undefined, 28_232)).toBe(3);
    expect(edgesFor(EDGE_FOBS_MAX * 4 + 1, undefined, 28_232)).toBe(5);
    // A narrow ephemeral port range bounds an edge below EDGE_FOBS_MAX.
    expect(edgesFor(51_100, undefined, 11_000)).toBe(6);
  });

  it('keeps a given count that is enough, and refuses one that is not, naming what is needed', () => {
    expect(edgesFor(51_100, 4, 28_232)).toBe(4);
    expect(() => edgesFor(51_100, 2, 28_232)).toThrow(ClusterBenchError);
    expect(() => edgesFor(51_100, 2, 28_232)).toThrow('give at least --edges 3');
    expect(() => edgesFor(1_000, 1, 28_232)).toThrow('at least 2');
  });
});
