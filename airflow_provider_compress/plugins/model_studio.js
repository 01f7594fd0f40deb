// The "Model Studio" page of the Airflow UI (a React app of the provider's plugin): the remote
// work of every dashscope connection that is not finished, who started it, or "orphaned".
// Plain JavaScript on the UI's own React (globalThis.React), so there is nothing to build.
// Read-only: it reads dashscope/api/work, and nothing on it stops anything.
(() => {
  const React = globalThis.React;
  const h = React.createElement;
  const API = new URL("dashscope/api/work", document.baseURI).href;
  const REFRESH_MS = 10000;
  const COLORS = {
    owned: "#2f855a",
    "handed on": "#2b6cb0",
    kept: "#718096",
    orphaned: "#c53030",
    "not started by Airflow": "#975a16",
  };
  const cell = { padding: "6px 10px", borderBottom: "1px solid #e2e8f0", textAlign: "left", verticalAlign: "top" };

  function age(seconds) {
    if (seconds === null || seconds === undefined) return "-";
    const s = Math.round(seconds);
    if (s < 120) return `${s} s`;
    if (s < 7200) return `${Math.round(s / 60)} min`;
    return `${(s / 3600).toFixed(1)} h`;
  }

  function owner(row) {
    const o = row.owner;
    if (!o) return "-";
    const task = o.map_index >= 0 ? `${o.task_id} [${o.map_index}]` : o.task_id;
    const label = `${o.dag_id} / ${task}`;
    return h("div", null, h("a", { href: new URL(o.url, document.baseURI).href }, label), h("div", { style: { fontSize: "0.85em", color: "#718096" } }, o.run_id));
  }

  function account(row) {
    const color = COLORS[row.account] || "#4a5568";
    return h(
      "div",
      { "data-account": row.account },
      h("strong", { style: { color } }, row.account),
      h("div", { style: { fontSize: "0.85em", color: "#718096" } }, row.reason),
    );
  }

  function table(section) {
    const head = ["Kind", "Resource", "Status", "Age", "Usage so far", "Started by", "Accounted for"];
    const rows = section.work.map((row) =>
      h(
        "tr",
        { key: `${row.kind}:${row.resource_id}`, "data-resource": row.resource_id },
        h("td", { style: cell }, row.noun),
        h(
          "td",
          { style: cell },
          row.console_url ? h("a", { href: row.console_url, target: "_blank", rel: "noopener noreferrer" }, row.resource_id) : row.resource_id,
          row.name ? h("div", { style: { fontSize: "0.85em", color: "#718096" } }, row.name) : null,
        ),
        h("td", { style: cell }, row.status),
        h("td", { style: cell }, age(row.age_seconds)),
        h("td", { style: cell }, row.usage ? `${row.usage.usage.toLocaleString()} ${row.usage.unit}` : "-"),
        h("td", { style: cell }, owner(row)),
        h("td", { style: cell }, account(row)),
      ),
    );
    return h(
      "section",
      { key: section.conn_id, style: { marginBottom: "24px" } },
      h("h3", { style: { fontSize: "1.1em", fontWeight: 600, margin: "8px 0" } }, `Connection ${section.conn_id}`),
      section.error ? h("p", { style: { color: "#c53030" } }, `Could not list its work: ${section.error}`) : null,
      section.work.length === 0 && !section.error ? h("p", null, "Nothing unfinished.") : null,
      section.work.length > 0
        ? h(
            "table",
            { style: { borderCollapse: "collapse", width: "100%" } },
            h("thead", null, h("tr", null, head.map((name) => h("th", { key: name, style: { ...cell, fontWeight: 600 } }, name)))),
            h("tbody", null, rows),
          )
        : null,
    );
  }

  function ModelStudio() {
    const [data, setData] = React.useState(null);
    const [error, setError] = React.useState(null);
    React.useEffect(() => {
      let stopped = false;
      const load = () =>
        fetch(API, { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then((answer) => (answer.ok ? answer.json() : Promise.reject(new Error(`HTTP ${answer.status}`))))
          .then((body) => !stopped && (setData(body), setError(null)))
          .catch((err) => !stopped && setError(String(err)));
      load();
      const timer = setInterval(load, REFRESH_MS);
      return () => {
        stopped = true;
        clearInterval(timer);
      };
    }, []);
    return h(
      "div",
      { style: { padding: "16px" }, "data-testid": "model-studio" },
      h("h2", { style: { fontSize: "1.4em", fontWeight: 600, marginBottom: "4px" } }, "Model Studio: work not finished"),
      h(
        "p",
        { style: { color: "#718096", marginBottom: "16px" } },
        "Jobs that have not ended and deployments that exist, for each dashscope connection; read-only. ",
        "Orphaned: the provider started it and nothing in Airflow accounts for it any more.",
      ),
      error ? h("p", { style: { color: "#c53030" } }, `Could not load: ${error}`) : null,
      data === null && !error ? h("p", null, "Loading...") : null,
      data ? data.connections.map(table) : null,
    );
  }

  globalThis.AirflowPlugin = ModelStudio;
})();
