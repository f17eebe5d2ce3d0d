// Starts Bluesky's reference PDS (`@atproto/dev-env`'s TestPds, the one the atproto repo
// tests itself with) beside its did:plc directory (TestPlc, in memory), on free loopback
// ports, with SQLite and blobs in a fresh temporary directory. No Postgres, no AppView.
//
// Prints one JSON line on stdout once both answer:
//   {"ready":true,"url":"http://localhost:PORT","plcUrl":"http://localhost:PORT",
//    "adminPassword":"…","handleDomain":".test","dataDirectory":"…"}
// and stays up until stdin closes (or SIGTERM/SIGINT), then stops both and removes the
// directory. Everything else (the PDS's own logs) goes to stderr. On failure it prints
// {"ready":false,"error":"…"} and exits 1.
//
// By hand: `npm ci && node start.mjs` in this folder (Ctrl-D stops it). Tests use
// harness.rs beside this file, which installs into $HOME/.cache/plugboard/bluesky-pds.
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { TestNetworkNoAppView } from '@atproto/dev-env'

// The dev-env's fixed admin password (packages/dev-env/src/const.ts).
const ADMIN_PASSWORD = 'admin-pass'

const dataRoot = await fs.mkdtemp(path.join(os.tmpdir(), 'plugboard-pds-'))
let network
let stopping = false

async function stop(code) {
  if (stopping) return
  stopping = true
  try {
    if (network) await network.close()
  } catch (err) {
    process.stderr.write(`closing the PDS: ${err?.stack ?? err}\n`)
  }
  await fs.rm(dataRoot, { recursive: true, force: true })
  process.exit(code)
}

try {
  const dataDirectory = path.join(dataRoot, 'data')
  const blobstoreDiskLocation = path.join(dataRoot, 'blobs')
  await fs.mkdir(dataDirectory, { recursive: true })
  network = await TestNetworkNoAppView.create({
    pds: { dataDirectory, blobstoreDiskLocation, adminPassword: ADMIN_PASSWORD },
  })
  const pds = network.pds
  process.stdout.write(
    JSON.stringify({
      ready: true,
      url: pds.url,
      plcUrl: network.plc.url,
      adminPassword: ADMIN_PASSWORD,
      handleDomain: pds.ctx.cfg.identity.serviceHandleDomains[0],
      dataDirectory: dataRoot,
    }) + '\n',
  )
} catch (err) {
  process.stderr.write(`starting the PDS: ${err?.stack ?? err}\n`)
  process.stdout.write(JSON.stringify({ ready: false, error: String(err?.message ?? err) }) + '\n')
  await stop(1)
}

process.stdin.on('end', () => stop(0))
process.stdin.on('close', () => stop(0))
process.stdin.resume()
process.on('SIGTERM', () => stop(0))
process.on('SIGINT', () => stop(0))
