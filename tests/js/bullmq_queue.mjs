// BullMQ producer/worker workload for tests/tests/clients_bullmq.rs: N jobs (some
// failing once and retried), a delayed one, 8 concurrent handlers; prints what
// was done as one JSON line. Usage: node bullmq_queue.mjs PORT N
import { Queue, Worker, QueueEvents } from 'bullmq';
const port = parseInt(process.argv[2]);
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
const N = parseInt(process.argv[3] || '300');
const queue = new Queue('jobs', { connection });
const seen = new Map();
let done = 0;
const t0 = Date.now();
const finished = new Promise((resolve) => {
  const worker = new Worker('jobs', async (job) => {
    seen.set(job.data.i, (seen.get(job.data.i) || 0) + 1);
    if (job.data.i % 50 === 7 && job.attemptsMade === 0) throw new Error('retry me');
    return job.data.i * 2;
  }, { connection, concurrency: 8 });
  worker.on('completed', async () => { done++; if (done === N) { await worker.close(); resolve(); } });
  worker.on('error', (e) => console.error('worker error', e.message));
});
for (let i = 0; i < N; i += 50) {
  await queue.addBulk(Array.from({ length: 50 }, (_, k) => ({ name: 'j', data: { i: i + k }, opts: { attempts: 3, backoff: { type: 'fixed', delay: 10 } } })));
}
await queue.add('delayed', { i: N }, { delay: 200 });
await finished;
const counts = await queue.getJobCounts('completed', 'failed', 'waiting', 'active', 'delayed');
const retried = [...seen.values()].filter((v) => v === 2).length;
const once = [...seen.entries()].filter(([i, v]) => i < N && (v === 1 || (i % 50 === 7 && v === 2))).length;
console.log(JSON.stringify({ done, once, retried, counts, ms: Date.now() - t0 }));
await queue.close();
process.exit(0);
