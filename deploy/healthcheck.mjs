// The Docker image's HEALTHCHECK: asks the running server for GET /healthz on
// loopback and exits 0 only for {"status":"ok"}. Plain JavaScript with no
// imports, because the image has no curl or wget (less to attack) and this
// must run without the build.
const port = Number(process.env.PORT || 8080);
const listen = process.env.HOST || '127.0.0.1';
// A server bound to every interface is reached on loopback; one bound to a
// single address only there.
const host = listen === '0.0.0.0' || listen === '::' ? '127.0.0.1' : listen.includes(':') ? `[${listen}]` : listen;

try {
  const response = await fetch(`http://${host}:${port}/healthz`, { signal: AbortSignal.timeout(4000) });
  const body = await response.json();
  process.exit(response.status === 200 && body.status === 'ok' ? 0 : 1);
} catch {
  process.exit(1);
}
