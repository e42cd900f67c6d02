"""How comparisons and results look in JSON (the API) — one place, used by every endpoint."""

from django.urls import reverse


def absolute(request, path):
    return request.build_absolute_uri(path) if request is not None else path


def result_dict(result, request=None):
    return {
        "id": result.pk,
        "route": result.route_key,
        "label": result.route_label,
        "sandbox": result.sandbox,
        "status": result.status,
        "queue_ms": _round(result.queue_ms),
        "latency_ms": _round(result.latency_ms),
        "provider_timings_ms": result.provider_timings,
        "cost_usd": None if result.cost_usd is None else str(result.cost_usd.normalize()),
        "cost_source": result.cost_source,
        "estimated_cost_usd": None if result.estimated_cost_usd is None else str(result.estimated_cost_usd.normalize()),
        "error": result.error or None,
        "error_code": result.error_code or None,
        "notes": result.notes,
        "retried_attempts": result.attempts,
        "provider_request_id": result.provider_request_id or None,
        "worker": result.worker or None,
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "images": [
            {
                "url": absolute(request, image.get_absolute_url()),
                "thumbnail_url": absolute(request, image.get_thumbnail_url()),
                "width": image.width,
                "height": image.height,
                "format": image.format,
                "bytes": image.bytes,
                "sha256": image.sha256,
            }
            for image in result.images.all()
        ],
    }


def comparison_dict(comparison, request=None, with_results=True):
    data = {
        "id": comparison.pk,
        "prompt": comparison.prompt,
        "params": comparison.params,
        "status": comparison.status,
        "team": {"id": comparison.team_id, "name": comparison.team.name},
        "created_at": comparison.created_at,
        "created_by": comparison.created_by.get_username() if comparison.created_by else None,
        "url": absolute(request, comparison.get_absolute_url()),
        "api_url": absolute(request, reverse("api:comparison", args=[comparison.pk])),
        "rerun_of": comparison.rerun_of_id,
        "references": [
            {"role": ref.role, "url": absolute(request, ref.get_absolute_url()), "width": ref.width,
             "height": ref.height, "format": ref.format, "bytes": ref.bytes}
            for ref in comparison.references.all()
        ],
    }
    if with_results:
        data["results"] = [result_dict(r, request) for r in comparison.results.all()]
    else:
        data["routes"] = comparison.route_keys
    return data


def _round(value):
    return None if value is None else round(value, 1)
