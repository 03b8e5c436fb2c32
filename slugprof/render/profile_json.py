"""The profile report as JSON (`schema_version` 1): the contract documented in the README."""

from __future__ import annotations

import json
from typing import Any

from slugprof.model import ProfileReport
from slugprof.render.common import findings_to_list


def profile_to_dict(report: ProfileReport) -> dict[str, Any]:
    requests = report.requests
    return {
        "schema_version": report.schema_version,
        "kind": "profile",
        "tool": {"name": "slugprof", "version": report.tool_version},
        "created": report.created,
        "app": {"root": report.app_root, "process_type": report.process_type, "command": report.command},
        "dyno": report.dyno,
        "web_concurrency": report.web_concurrency,
        "memray": report.memray,
        "boot_seconds": round(report.boot_seconds, 3),
        "shutdown_seconds": round(report.shutdown_seconds, 3),
        "graceful_shutdown": report.graceful_shutdown,
        "memory": {
            "peak_total_bytes": report.peak_total_bytes,
            "peak_total_rss_bytes": report.peak_total_rss_bytes,
            "base_bytes": report.base_bytes,
            "worker_marginal_bytes": report.worker_marginal_bytes,
            "samples": [
                {
                    "seconds": round(sample.seconds, 3),
                    "total_pss_bytes": sample.total_pss,
                    "total_rss_bytes": sample.total_rss,
                    "processes": [
                        {"pid": p.pid, "rss": p.rss, "pss": p.pss, "uss": p.uss, "threads": p.threads}
                        for p in sample.processes
                    ],
                }
                for sample in report.samples
            ],
        },
        "processes": [
            {
                "pid": process.pid,
                "role": process.role,
                "command": process.command,
                "peak_rss_bytes": process.peak_rss_bytes,
                "peak_pss_bytes": process.peak_pss_bytes,
                "peak_uss_bytes": process.peak_uss_bytes,
                "heap_peak_bytes": process.heap_peak_bytes,
                "threads_max": process.threads_max,
                "top_sites": [
                    {"location": site.location, "bytes": site.bytes, "count": site.count}
                    for site in process.top_sites
                ],
                "growth_bytes_per_second": dict(report.worker_growth).get(process.pid),
            }
            for process in report.processes
        ],
        "imports": [{"module": i.module, "bytes": i.bytes, "role": i.role} for i in report.imports],
        "requests": (
            {
                "count": requests.count,
                "status_codes": {str(status): count for status, count in requests.status_codes},
                "latency_seconds": {
                    "p50": round(requests.latency_p50, 4),
                    "p95": round(requests.latency_p95, 4),
                    "max": round(requests.latency_max, 4),
                },
            }
            if requests
            else None
        ),
        "headroom": report.headroom,
        "dyno_fit": [
            {
                "dyno": fit.dyno,
                "quota_bytes": fit.quota_bytes,
                "workers": fit.workers,
                "predicted_bytes": fit.predicted_bytes,
                "status": fit.status,
                "max_workers": fit.max_workers,
            }
            for fit in report.dyno_fit
        ],
        "notes": list(report.notes),
        "findings": findings_to_list(report.findings),
    }


def render_profile_json(report: ProfileReport) -> str:
    return json.dumps(profile_to_dict(report), indent=2, ensure_ascii=False) + "\n"
