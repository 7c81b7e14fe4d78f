/**
 * deploy/k8s/: every object validated against the Kubernetes OpenAPI schemas
 * (kubernetes-models: each object validates itself), then checked as a whole:
 * services and budgets select the pods they are for, probes and services use
 * ports the containers name, every ConfigMap referenced is in the folder and
 * every Secret referenced is documented; the objects' TypeScript types (of
 * the same package) catch a misspelt field, which the schemas let through;
 * the server's environment is one its
 * configuration parser accepts in production, the edge runs the repository's
 * own Caddyfile, the grace periods fit, and kustomization.yaml lists it all.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Service } from 'kubernetes-models/v1';
import { parseServerConfig } from '../../adapters/server/server-config.js';
import { imageCommand } from '../support/jemalloc.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const DIR = join(ROOT, 'deploy', 'k8s');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

/** The model class of each kind the folder may use. */
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

interface Obj {
  file: string;
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
}
const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
const objects: Obj[] = files.flatMap((file) =>
  parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    return { file, ...(d.toJS() as Omit<Obj, 'file'>) };
  }),
);
const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
const named = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
const deployments = byKind('Deployment');
const podSpecs = [...deployments, ...byKind('Job')].map((o) => ({
  o,
  pod: o.spec.template.spec,
  labels: o.spec.template.metadata.labels,
}));

t.test('every object validates against the Kubernetes schemas', async (t) => {
  t.ok(objects.length >= 10, `${objects.length} objects in ${files.length} files`);
  for (const o of objects) {
    const Model = MODELS[`${o.apiVersion}/${o.kind}`];
    t.ok(Model, `${o.file}: ${o.apiVersion} ${o.kind} is a kind this folder is meant to hold`);
    if (!Model) continue;
    const { file: _, ...data } = o;
    t.doesNotThrow(() => new Model(data).validate(), `${o.file}: ${o.kind} ${o.metadata.name}`);
    if (o.kind !== 'Namespace')
      t.equal(o.metadata.namespace, 'dispatch', `${o.kind} ${o.metadata.name} in the namespace`);
  }
});

t.test('the validation is real: a wrong field type or a missing required field fails', async (t) => {
  const server = named('Deployment', 'dispatch-server')!;
  const { file: _, ...data } = server;
  const wrongType = structuredClone(data);
  wrongType.spec.replicas = 'one';
  t.throws(() => new Deployment(wrongType).validate(), /replicas/);
  const noSelector = structuredClone(data);
  delete noSelector.spec.selector;
  t.throws(() => new Deployment(noSelector).validate(), /selector/);
});

/** The TypeScript interface of each kind, from kubernetes-models. */
const TYPES: Record<string, [string, string]> = {
  'v1/Namespace': ['kubernetes-models/v1', 'INamespace'],
  'v1/ConfigMap': ['kubernetes-models/v1', 'IConfigMap'],
  'v1/Service': ['kubernetes-models/v1', 'IService'],
  'apps/v1/Deployment': ['kubernetes-models/apps/v1', 'IDeployment'],
  'batch/v1/Job': ['kubernetes-models/batch/v1', 'IJob'],
  'policy/v1/PodDisruptionBudget': ['kubernetes-models/policy/v1', 'IPodDisruptionBudget'],
};

/** Type-checks `objs` as object literals of their kinds' interfaces (excess property checks); tsc's output. */
async function typeCheck(objs: readonly Obj[], name: string): Promise<{ ok: boolean; output: string }> {
  // Inside node_modules so that the file resolves kubernetes-models; removed after.
  const dir = join(ROOT, 'node_modules', '.cache', `k8s-types-${process.pid}-${name}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.ts`);
  const imports = new Map<string, Set<string>>();
  const lines = objs.map((o, i) => {
    const [from, type] = TYPES[`${o.apiVersion}/${o.kind}`]!;
    imports.set(from, (imports.get(from) ?? new Set()).add(type));
    const { file: _, ...data } = o;
    return `export const o${i}: ${type} = ${JSON.stringify(data)};`;
  });
  writeFileSync(
    file,
    [...[...imports].map(([from, types]) => `import type { ${[...types].join(', ')} } from '${from}';`), ...lines].join(
      '\n',
    ),
  );
  try {
    const r = await promisify(execFile)(process.execPath, [
      join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
      ...['--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext'],
      ...['--target', 'es2022', file],
    ]);
    return { ok: true, output: r.stdout };
  } catch (err) {
    return { ok: false, output: String((err as { stdout?: string }).stdout ?? err) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

t.test('no unknown or misspelt field: every object type-checks as its kind', async (t) => {
  const misspelt = structuredClone(named('Deployment', 'dispatch-server')!);
  const c = misspelt.spec.template.spec.containers[0];
  c.readinesProbe = c.readinessProbe;
  delete c.readinessProbe;
  const [good, bad] = await Promise.all([typeCheck(objects, 'all'), typeCheck([misspelt], 'misspelt')]);
  t.ok(good.ok, `tsc accepts every object${good.ok ? '' : `:\n${good.output}`}`);
  t.notOk(bad.ok, 'a misspelt field fails');
  t.match(bad.output, /'"readinesProbe"' does not exist in type 'IContainer'/);
});

t.test(
  'the whole set: namespace, config, server and worker with probes and resources, services, edge, budgets',
  async (t) => {
    t.ok(named('Namespace', 'dispatch'));
    t.ok(named('ConfigMap', 'dispatch-config'));
    t.same(deployments.map((d) => d.metadata.name).sort(), ['dispatch-edge', 'dispatch-server', 'dispatch-worker']);
    for (const d of deployments) {
      t.ok(
        byKind('PodDisruptionBudget').some((p) =>
          selects(p.spec.selector.matchLabels, d.spec.template.metadata.labels),
        ),
        `${d.metadata.name} has a disruption budget`,
      );
      for (const c of d.spec.template.spec.containers) {
        t.ok(c.livenessProbe && c.readinessProbe, `${d.metadata.name}/${c.name} has liveness and readiness probes`);
        t.ok(
          c.resources?.requests?.cpu && c.resources?.requests?.memory && c.resources?.limits?.memory,
          `${d.metadata.name}/${c.name} has resources`,
        );
        t.equal(c.securityContext?.allowPrivilegeEscalation, false);
        t.equal(c.securityContext?.readOnlyRootFilesystem, true);
      }
      t.equal(d.spec.template.spec.securityContext?.runAsNonRoot, true, `${d.metadata.name} runs as non-root`);
    }
  },
);

t.test('the server: one replica, replaced with Recreate; probes on /livez, /readyz; grace period fits', async (t) => {
  const d = named('Deployment', 'dispatch-server')!;
  t.equal(d.spec.replicas, 1, 'one engine owns the city (DESIGN.md, Scale beyond one process)');
  t.equal(d.spec.strategy.type, 'Recreate', 'never two engines on one database during a rollout');
  const c = d.spec.template.spec.containers[0];
  t.same(c.command, imageCommand(pkg.scripts['start']!));
  t.equal(c.livenessProbe.httpGet.path, '/livez');
  t.equal(c.readinessProbe.httpGet.path, '/readyz');
  t.ok(c.startupProbe, 'a startup probe covers recovery');
  const config = named('ConfigMap', 'dispatch-config')!.data!;
  t.ok(
    Number(config['SHUTDOWN_GRACE_MS']) < d.spec.template.spec.terminationGracePeriodSeconds * 1000,
    'SHUTDOWN_GRACE_MS ends before the kubelet sends SIGKILL',
  );
  const w = named('Deployment', 'dispatch-worker')!;
  t.same(w.spec.template.spec.containers[0].command, pkg.scripts['worker']!.split(' '));
  t.ok(w.spec.replicas >= 2, 'workers scale out');
  const job = named('Job', 'dispatch-migrate')!;
  t.same(job.spec.template.spec.containers[0].command, pkg.scripts['migrate']!.split(' '));
  const images = new Set(
    podSpecs
      .filter((p) => p.o.metadata.name !== 'dispatch-edge')
      .flatMap((p) => p.pod.containers.map((c: any) => c.image)),
  );
  t.equal(images.size, 1, 'server, worker and migrations run the same image');
});

t.test('services and probes use ports the containers name; services select pods', async (t) => {
  for (const { o, pod } of podSpecs)
    for (const c of pod.containers) {
      const ports = new Set((c.ports ?? []).map((p: { name: string }) => p.name));
      for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
        const port = c[probe]?.httpGet?.port ?? c[probe]?.tcpSocket?.port;
        if (port !== undefined) t.ok(ports.has(port), `${o.metadata.name} ${probe} port ${port} is named`);
      }
    }
  for (const s of byKind('Service')) {
    const target = podSpecs.find((p) => selects(s.spec.selector, p.labels));
    t.ok(target, `Service ${s.metadata.name} selects pods`);
    const names = new Set(
      target!.pod.containers.flatMap((c: any) => (c.ports ?? []).map((p: any) => `${p.name}/${p.protocol}`)),
    );
    for (const p of s.spec.ports)
      t.ok(names.has(`${p.targetPort}/${p.protocol}`), `${s.metadata.name} → ${p.targetPort}/${p.protocol}`);
  }
  const edge = named('Service', 'dispatch-edge')!;
  t.equal(edge.spec.type, 'LoadBalancer', 'the edge is the public endpoint');
  t.same(edge.spec.ports.map((p: any) => `${p.port}/${p.protocol}`).sort(), ['443/TCP', '443/UDP'], 'HTTP/3 needs UDP');
  t.equal(named('Service', 'dispatch-server')!.spec.type, 'ClusterIP', 'the server is not public');
});

t.test('the edge runs the repository Caddyfile in front of the server Service', async (t) => {
  const cm = named('ConfigMap', 'dispatch-edge')!;
  t.equal(
    cm.data!['Caddyfile'],
    readFileSync(join(ROOT, 'edge', 'Caddyfile'), 'utf8'),
    'the same bytes as edge/Caddyfile',
  );
  const c = named('Deployment', 'dispatch-edge')!.spec.template.spec.containers[0];
  const env = Object.fromEntries(c.env.map((e: { name: string; value: string }) => [e.name, e.value]));
  const svc = named('Service', 'dispatch-server')!;
  t.equal(env['EDGE_UPSTREAM'], `${svc.metadata.name}:${svc.spec.ports.find((p: any) => p.name === 'http').port}`);
  t.equal(env['EDGE_PORT'], '443', 'Caddy listens on the public port: Alt-Svc advertises it');
  for (const v of readFileSync(join(ROOT, 'edge', 'Caddyfile'), 'utf8').matchAll(/\{\$(\w+)/g))
    t.ok(v[1]! in env, `the edge sets ${v[1]}`);
});

t.test('references: ConfigMaps are in the folder, Secrets are documented, and the server config parses', async (t) => {
  const ops = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8');
  const secrets = new Set<string>();
  const secretKeys = new Set<string>();
  for (const { o, pod } of podSpecs) {
    for (const v of pod.volumes ?? []) {
      if (v.configMap) t.ok(named('ConfigMap', v.configMap.name), `${o.metadata.name}: ConfigMap ${v.configMap.name}`);
      if (v.secret) secrets.add(v.secret.secretName);
    }
    for (const c of pod.containers) {
      for (const e of c.envFrom ?? []) {
        if (e.configMapRef)
          t.ok(named('ConfigMap', e.configMapRef.name), `${o.metadata.name}: ConfigMap ${e.configMapRef.name}`);
        if (e.secretRef) secrets.add(e.secretRef.name);
      }
      for (const e of c.env ?? [])
        if (e.valueFrom?.secretKeyRef) {
          secrets.add(e.valueFrom.secretKeyRef.name);
          secretKeys.add(e.valueFrom.secretKeyRef.key);
        }
    }
  }
  t.same([...secrets].sort(), ['dispatch-edge-tls', 'dispatch-firebase', 'dispatch-secrets']);
  t.notOk(byKind('Secret').length, 'no Secret object is committed');
  for (const s of secrets) t.match(ops, s, `docs/operations.md says how to create ${s}`);
  // The keys of dispatch-secrets as docs/operations.md creates them.
  const created = [...new Set([...ops.matchAll(/--from-literal=(\w+)=/g)].map((m) => m[1]!))];
  for (const k of secretKeys) t.ok(created.includes(k), `dispatch-secrets holds ${k}`);
  const fake: Record<string, string> = {
    DATABASE_URL: 'postgres://dispatch:pw@db:5432/dispatch',
    REDIS_URL: 'redis://redis:6379',
    ENCRYPTION_KEY: 'ab'.repeat(32),
    FIREBASE_PROJECT_ID: 'dispatch-prod',
    PAYMENT_WEBHOOK_SECRET: 'whsec-0123456789abcdef',
    UPI_PAYEE_VPA: 'dispatch@okhdfc',
    UPI_GATEWAY_URL: 'https://api.razorpay.com',
    UPI_MERCHANT_ID: 'acc_live',
    UPI_API_KEY: 'rzp_live_x',
    UPI_API_KEY_SECRET: 'secret',
  };
  t.same(created.sort(), Object.keys(fake).sort(), 'the documented secret keys are exactly these');
  const config = parseServerConfig({ ...named('ConfigMap', 'dispatch-config')!.data, ...fake });
  t.equal(config.mode, 'production');
  t.equal(config.inProcessWorker, false, 'the worker Deployment writes behind');
  t.match(config.firebase.serviceAccountKey, { kind: 'path' });
  const mount = named('Deployment', 'dispatch-server')!.spec.template.spec.containers[0].volumeMounts.find(
    (m: { name: string }) => m.name === 'firebase',
  );
  t.ok(
    named('ConfigMap', 'dispatch-config')!.data!['FIREBASE_SERVICE_ACCOUNT_KEY']!.startsWith(`${mount.mountPath}/`),
    'the key path is inside the mounted secret',
  );
});

t.test('kustomization.yaml lists every file but the migration Job', async (t) => {
  const k = parseAllDocuments(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as {
    resources: string[];
  };
  t.same(k.resources.sort(), files.filter((f) => f !== 'migrate-job.yaml').sort());
});

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}
