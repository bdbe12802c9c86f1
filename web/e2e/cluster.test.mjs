// The web client in a real browser against a real cluster (docs/cluster.md): one etcd member
// and two `parley serve --etcd` nodes. Bob's page was served by the node that then dies
// (SIGKILL): his client cannot ask that node where to go, so it tries the other gateway the
// page's discovery named, and keeps chatting with alice once the survivor leads. Nothing is
// lost or shown twice.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  addContact,
  launchBrowser,
  newPerson,
  openChat,
  openContact,
  send,
  shownMessages,
  signUp,
  startNode,
  waitForMessages,
} from './harness.mjs';

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// One etcd member on free loopback ports, stopped by pid.
async function startEtcd() {
  const dir = await mkdtemp(join(tmpdir(), 'parley-e2e-etcd-'));
  const client = `http://127.0.0.1:${await freePort()}`;
  const peer = `http://127.0.0.1:${await freePort()}`;
  const child = spawn(
    process.env.ETCD ?? '/usr/bin/etcd',
    ['--name', 'e1', '--data-dir', join(dir, 'e1'), '--listen-client-urls', client,
      '--advertise-client-urls', client, '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer, '--initial-cluster', `e1=${peer}`],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  for (let i = 0; i < 200; i++) {
    const healthy = await fetch(`${client}/health`).then((r) => r.ok, () => false);
    if (healthy) break;
    await sleep(50);
  }
  return {
    endpoint: client.replace('http://', ''),
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.on('exit', resolve)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// Polls GET /v1/discover on `node` until it names a gateway (a leader exists) and lists
// `gateways` of them: each node registers in etcd's directory on its own schedule, so the
// first answer with a leader may name only the node that registered first (CI saw 1 of 2).
async function waitForDiscovery(node, gateways) {
  let answer = null;
  for (let i = 0; i < 300; i++) {
    answer = await fetch(`${node.url}/v1/discover`).then((r) => (r.ok ? r.json() : null), () => null);
    if (answer?.websocket && answer.gateways?.length >= gateways) return answer;
    await sleep(100);
  }
  throw new Error(`discovery never named ${gateways} gateways with a leader (last: ${JSON.stringify(answer)}): ${node.log()}`);
}

let etcd;
let nodes = [];
let browser;

before(async () => {
  etcd = await startEtcd();
  const flags = (name) => ['--etcd', etcd.endpoint, '--node-name', name, '--lease-ttl-s', '2'];
  nodes = [await startNode(flags('n1')), await startNode(flags('n2'))];
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  for (const node of nodes) await node.stop();
  await etcd?.stop();
});

test("a person whose page's node dies keeps chatting through the other node", async () => {
  const [first, second] = nodes;
  const found = await waitForDiscovery(first, 2);
  assert.equal(found.gateways.length, 2, 'discovery names both nodes');
  const alice = await newPerson(browser, first);
  const bob = await newPerson(browser, second);
  await signUp(alice.page, 'alice');
  await signUp(bob.page, 'bob');
  await addContact(alice.page, 'bob');
  await addContact(bob.page, 'alice');
  await openContact(alice.page, 'bob');
  await send(alice.page, 'before');
  await openChat(bob.page, 'alice');
  await waitForMessages(bob.page, ['before']);


  await second.kill();
  // Bob's client may be on either node; it reconnects through the survivor once it leads.
  await send(alice.page, 'after 1');
  await send(bob.page, 'reply');
  await send(alice.page, 'after 2');
  // Bob's reply waits in his outbox until he is back, so it may land before or after
  // alice's second message: both pages must show the same four, each once.
  const expected = ['before', 'after 1', 'reply', 'after 2'];
  const showsAll = async (page) => {
    for (let i = 0; i < 600; i++) {
      const shown = await shownMessages(page);
      if (expected.every((text) => shown.includes(text))) return;
      await sleep(50);
    }
    throw new Error(`the page shows ${JSON.stringify(await shownMessages(page))}`);
  };
  await showsAll(bob.page);
  await showsAll(alice.page);
  await bob.page.locator('[data-testid=status][data-state=online]').waitFor();
  await sleep(500); // anything duplicated would have arrived by now
  assert.deepEqual(await shownMessages(alice.page), await shownMessages(bob.page), 'one order for both');
  for (const page of [alice.page, bob.page]) {
    const shown = await shownMessages(page);
    assert.deepEqual([...shown].sort(), [...expected].sort(), 'each message once');
    assert.equal(shown[0], 'before');
  }
});
