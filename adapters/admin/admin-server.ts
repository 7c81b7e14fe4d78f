import { readFileSync } from 'node:fs';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { adminPackage, ADMIN_SERVICE } from './admin-proto.js';
import { type AdminServiceDeps, adminService } from './admin-service.js';

/** Where and how the admin service listens (ServerConfig.admin). */
export interface AdminListenConfig {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** PEM files; both set means TLS, neither plaintext. */
  readonly tlsCertFile: string | undefined;
  readonly tlsKeyFile: string | undefined;
}

export interface RunningAdmin {
  readonly port: number;
  readonly tls: boolean;
  /** StreamEvents calls open now. */
  streams(): number;
  close(): Promise<void>;
}

/** Largest request the admin service takes: its requests are a few fields. */
const MAX_RECEIVE_BYTES = 64 * 1024;

/**
 * Serves DispatchAdmin (protocol/admin.proto) and server reflection on its own
 * port, over TLS when a certificate is configured.
 */
export async function startAdminServer(config: AdminListenConfig, deps: AdminServiceDeps): Promise<RunningAdmin> {
  const pkg = adminPackage();
  const server = new Server({ 'grpc.max_receive_message_length': MAX_RECEIVE_BYTES });
  const definition = pkg[ADMIN_SERVICE];
  if (!definition || 'format' in definition) throw new Error(`${ADMIN_SERVICE} missing from admin.proto`);
  server.addService(definition, adminService(deps));
  new ReflectionService(pkg).addToServer(server);
  const tls = config.tlsCertFile !== undefined && config.tlsKeyFile !== undefined;
  const credentials = tls
    ? ServerCredentials.createSsl(null, [
        { cert_chain: readFileSync(config.tlsCertFile), private_key: readFileSync(config.tlsKeyFile) },
      ])
    : ServerCredentials.createInsecure();
  const address = `${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, credentials, (err, p) =>
      err ? reject(new Error(`admin service cannot listen on ${address}: ${err.message}`)) : resolve(p),
    ),
  );
  return {
    port,
    tls,
    streams: () => deps.feed.watchers,
    close: () =>
      new Promise<void>((resolve) => {
        deps.feed.close();
        // Streams never end by themselves: give calls a moment, then cut what is left.
        const force = setTimeout(() => server.forceShutdown(), 2_000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
