// Run once by compose's mongo-init service (mongosh --host mongo1:27017): initiates the
// replica set rs0 over the three members unless it already is, then waits until one of
// them is primary. Safe to run again.
const members = [
  { _id: 0, host: "mongo1:27017" },
  { _id: 1, host: "mongo2:27017" },
  { _id: 2, host: "mongo3:27017" },
];

let initiated = true;
try {
  rs.status();
} catch (e) {
  // NotYetInitialized (94): a fresh set. Anything else is a real failure.
  if (e.code !== 94) throw e;
  initiated = false;
}
if (!initiated) {
  rs.initiate({ _id: "rs0", members });
  print("replica set rs0 initiated");
}

for (let i = 0; i < 120; i++) {
  const status = rs.status();
  const primary = status.members.find((m) => m.state === 1);
  if (primary) {
    print(`replica set rs0 ready, primary ${primary.name}`);
    quit(0);
  }
  sleep(1000);
}
print("no primary elected within two minutes");
quit(1);
