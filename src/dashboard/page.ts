/** PLACEHOLDER owned by the dashboard helper: replaced by the real page. */
export function dashboardPage(): { html: string; contentSecurityPolicy: string } {
  return { html: '<!doctype html><title>clustershazbot</title>', contentSecurityPolicy: "default-src 'none'" };
}
