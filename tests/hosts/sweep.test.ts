/** The start-up sweep's selection: only netns.ts' own names, only of networks whose owner is gone. */
import { describe, expect, it } from 'vitest';
import { networkIdOf, ownerAlive, recordOwner, forgetOwner, selectLeftovers } from './sweep.ts';

describe('networkIdOf', () => {
  it("reads the id from each of netns.ts' name shapes", () => {
    expect(networkIdOf('namespace', 'cmbnh-0a1b2c-services')).toBe('0a1b2c');
    expect(networkIdOf('namespace', 'cmbnh-0a1b2c-worker12')).toBe('0a1b2c');
    expect(networkIdOf('link', 'cbr0a1b2c')).toBe('0a1b2c');
    expect(networkIdOf('link', 'cv0a1b2ch0')).toBe('0a1b2c');
    expect(networkIdOf('link', 'cv0a1b2ch28')).toBe('0a1b2c');
  });

  it('matches nothing without the exact prefix and id shape', () => {
    const foreignNamespaces = ['cmbnh-test', 'cmbnh-0A1B2C-services', 'cmbnh-0a1b2-services', 'xcmbnh-0a1b2c-services', 'cmbnh-0a1b2c-', 'netns1', 'cbr0a1b2c'];
    for (const n of foreignNamespaces) expect(networkIdOf('namespace', n), n).toBeNull();
    // cbr0 is kubenet's bridge; docker0, eth0, lo, veth… are anybody's.
    const foreignLinks = ['cbr0', 'cbr0a1b2c0', 'cbr0a1b2', 'cv0a1b2c', 'cv0a1b2ch', 'cv0a1b2ch123', 'docker0', 'eth0', 'lo', 'veth12ab34', 'cmbnh-0a1b2c-services', 'xcbr0a1b2c'];
    for (const n of foreignLinks) expect(networkIdOf('link', n), n).toBeNull();
  });
});

describe('selectLeftovers', () => {
  const inv = {
    namespaces: ['cmbnh-dead01-services', 'cmbnh-dead01-worker1', 'cmbnh-a11ce0-services', 'cmbnh-test', 'other'],
    links: ['lo', 'eth0', 'cbr0', 'cbrdead01', 'cvdead01h0', 'cvdead01h1', 'cbra11ce0', 'cva11ce0h0', 'cbrdead02', 'docker0'],
  };

  it("selects every name of dead owners' networks, and nothing of a live one or a stranger's", () => {
    const r = selectLeftovers(inv, (id) => id === 'a11ce0');
    expect(r.ids).toEqual(['dead01', 'dead02']);
    expect(r.namespaces).toEqual(['cmbnh-dead01-services', 'cmbnh-dead01-worker1']);
    // A bridge whose namespaces are already gone (dead02) is still the suite's and still swept.
    expect(r.links).toEqual(['cbrdead01', 'cvdead01h0', 'cvdead01h1', 'cbrdead02']);
  });

  it('selects nothing when every owner is alive, and asks about each id it found', () => {
    const asked = new Set<string>();
    const r = selectLeftovers(inv, (id) => (asked.add(id), true));
    expect(r).toEqual({ ids: [], namespaces: [], links: [] });
    expect([...asked].sort()).toEqual(['a11ce0', 'dead01', 'dead02']);
  });
});

describe('owner records', () => {
  it('count this process as alive, and a network without a record as dead', () => {
    // Writes /run/cmbn-hosts/<id> (the suite runs as root); a random id cannot collide with a real network's.
    const id = `f${Math.floor(Math.random() * 0xfffff).toString(16).padStart(5, '0')}`;
    expect(ownerAlive(id)).toBe(false);
    recordOwner(id);
    try {
      expect(ownerAlive(id)).toBe(true);
    } finally {
      forgetOwner(id);
    }
    expect(ownerAlive(id)).toBe(false);
  });
});
