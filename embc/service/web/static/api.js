// Requests to the embc API of this page's server, with the API key when it wants one (asked once, kept for
// the browser tab).

export async function api(path, options = {}) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const key = sessionStorage.getItem("embc-key");
    const headers = { ...(options.headers || {}), ...(key ? { Authorization: `Bearer ${key}` } : {}) };
    const response = await fetch(path, { ...options, headers });
    if ((response.status === 401 || response.status === 403) && attempt === 0) {
      if (sessionStorage.getItem("embc-key") !== key) continue;  // another request asked meanwhile
      const given = prompt("This embc server wants its API key:");
      if (!given) return response;
      sessionStorage.setItem("embc-key", given);
      continue;
    }
    return response;
  }
}

export async function json(path, options) {
  const response = await api(path, options);
  const body = await response.json();
  if (response.ok) return body;
  // A 422's detail says what was wrong with each field: "invalid request: k must be ...".
  throw new Error([body.error || response.statusText, ...(body.detail || []).map((d) => d.msg)].join(": "));
}

// The options of a request whose body is `body` as JSON.
export function sending(method, body) {
  return { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

// A job's state and step as one line: "running: sweep (4 of 21)".
export function jobLine(job) {
  const { step, done, total } = job.progress;
  return `${job.state}${step ? `: ${step}` : ""}${total ? ` (${done} of ${total})` : ""}`;
}
