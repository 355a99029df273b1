/**
 * Smoke test of a deployed chat-system release (`npm run e2e:k8s`):
 *
 *  1. waits, through the current kube context, until every Deployment and StatefulSet of the
 *     release has rolled out and its pods are Ready;
 *  2. drives the REST API at the base URL (the ingress, or a port-forward): creates an
 *     application, a chat and a message, reads the message back once persisted, and finds it
 *     by an infix fragment once indexed.
 *
 * Options (flags win over environment variables):
 *   --base-url URL     E2E_BASE_URL          default http://localhost (kind + ingress on port 80)
 *   --namespace NS     E2E_NAMESPACE         default chat-system
 *   --release NAME     E2E_RELEASE           default chat-system
 *   --timeout SECONDS  E2E_TIMEOUT_SECONDS   default 600 (rollout), and per API step
 *   --skip-rollout                           only drive the API
 */
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { e2eSettings } from './e2e-k8s/settings.js';
import { waitForRelease } from './e2e-k8s/rollout.js';
import { runSmokeTest } from './e2e-k8s/smoke.js';

async function main(): Promise<void> {
  const settings = e2eSettings(process.argv.slice(2), process.env);
  const log = (message: string) => console.log(`[e2e:k8s] ${message}`);

  if (!settings.skipRollout) {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromDefault();
    log(
      `context ${kubeConfig.getCurrentContext()}: waiting for release ${settings.release} in ${settings.namespace}`,
    );
    const snapshot = await waitForRelease({
      apps: kubeConfig.makeApiClient(AppsV1Api),
      core: kubeConfig.makeApiClient(CoreV1Api),
      namespace: settings.namespace,
      labelSelector: `app.kubernetes.io/instance=${settings.release}`,
      timeoutMs: settings.timeoutMs,
      onWait: (reason) => log(`waiting: ${reason}`),
    });
    log(
      `rolled out: ${snapshot.deployments.length} deployments, ` +
        `${snapshot.statefulSets.length} statefulsets`,
    );
  }

  const result = await runSmokeTest({
    baseUrl: settings.baseUrl,
    timeoutMs: settings.timeoutMs,
    log,
  });
  log(
    `passed: message ${result.messageNumber} of chat ${result.chatNumber} persisted after ` +
      `${result.persistedAfterMs} ms, found by "${result.searchFragment}" after ${result.searchableAfterMs} ms`,
  );
}

main().catch((error: unknown) => {
  console.error(`[e2e:k8s] FAILED: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
