"""One validation for the compare page, the JSON API and the command line."""

from django import forms
from django.conf import settings

import io

from PIL import Image

from providers.base import FORMATS, QUALITIES, SIZE_PRESETS, ImageRequest, InputImage, parse_size

from compare import catalog, pricing
from compare.engine import limits
from compare.engine.requests import stored_references
from compare.images import ImageRejected, check_image
from compare.models import Comparison
from compare.params import BadParameter, object_id
from compare.teams.crypto import team_env
from compare.teams.models import SubmitRefused, Team
from compare.uploads import RefusedUpload

SIZE_CHOICES = [
    ("square", "Square 1024×1024"),
    ("portrait", "Portrait 1024×1536"),
    ("landscape", "Landscape 1536×1024"),
    ("custom", "Custom W×H"),
]
MAX_N = 4
MAX_REFERENCES = 16


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class ImagesField(forms.FileField):
    """Several uploaded images, each opened with Pillow: a list of CheckedImage."""

    widget = MultipleFileInput

    def clean(self, data, initial=None):
        files = [f for f in (data if isinstance(data, (list, tuple)) else [data]) if f]
        if len(files) > MAX_REFERENCES:
            raise forms.ValidationError(f"At most {MAX_REFERENCES} reference images.")
        return [_checked_upload(super(ImagesField, self).clean(f, initial)) for f in files]


def _checked_upload(upload):
    if isinstance(upload, RefusedUpload):  # over the size limit: streamed past, not kept
        raise forms.ValidationError(upload.reason)
    try:
        return check_image(upload.read())
    except ImageRejected as exc:
        raise forms.ValidationError(f"{upload.name}: {str(exc).replace('The provider returned', 'This is')}") from None


def _has_alpha(data):
    with Image.open(io.BytesIO(data)) as image:
        return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


class ComparisonForm(forms.Form):
    prompt = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "A red fox in fresh snow, golden hour"}),
        error_messages={"required": "Type a prompt: it cannot be empty."},
    )
    routes = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Pick at least one route.",
                        "invalid_choice": "Unknown route %(value)s."},
    )
    size = forms.CharField(initial="square", max_length=20,
                           help_text="square, portrait, landscape, custom, or WIDTHxHEIGHT")
    width = forms.IntegerField(required=False, min_value=16, max_value=8192)
    height = forms.IntegerField(required=False, min_value=16, max_value=8192)
    quality = forms.ChoiceField(choices=[(q, q) for q in QUALITIES], initial="auto")
    output_format = forms.ChoiceField(choices=[(f, f) for f in FORMATS], initial="png")
    n = forms.IntegerField(initial=1, min_value=1, max_value=MAX_N,
                           error_messages={"min_value": "n must be between 1 and 4.",
                                           "max_value": "n must be between 1 and 4."})
    seed = forms.IntegerField(required=False, min_value=0, max_value=2**31 - 1)
    reference_images = ImagesField(required=False, label="Reference images (for an edit)")
    mask = forms.FileField(required=False, label="Mask (PNG with transparency, for the first image)")
    references_from = forms.IntegerField(required=False, widget=forms.HiddenInput)
    blind = forms.BooleanField(required=False, label="Blind review: hide route names and shuffle the cards "
                                                    "for each reviewer until they give their verdict")
    hold_images_until_done = forms.BooleanField(required=False, label="Hold images back until every route "
                                                                      "has finished (speed cannot bias)")

    # Whether clean() checks the team's budget (a batch checks all its comparisons at once). The
    # check here shows the reason with the other errors; the binding one is made when the calls
    # are created (services.create_comparison), on the same rule (Team.check_budget).
    check_budget = True

    def __init__(self, *args, team=None, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.team, self.user = team, user
        self.route_map = catalog.available_routes(team)
        self.fields["routes"].choices = [(key, route.label) for key, route in self.route_map.items()]

    def clean_mask(self):
        upload = self.cleaned_data.get("mask")
        if not upload:
            return None
        checked = _checked_upload(upload)
        if checked.format != "png" or not _has_alpha(checked.data):
            raise forms.ValidationError("The mask must be a PNG with transparency (transparent = the area to edit).")
        return checked

    def clean_references_from(self):
        """Reuse the reference images of an earlier comparison ("Edit & run", "Run again")."""
        pk = self.cleaned_data.get("references_from")
        if not pk:
            return None
        visible = Comparison.objects.visible_to(self.user) if self.user is not None else Comparison.objects.none()
        earlier = visible.filter(pk=pk).first()
        if earlier is None:
            raise forms.ValidationError("That earlier comparison does not exist.")
        return earlier

    def references(self):
        """(reference images, mask) as CheckedImage, uploaded now or reused from an earlier run."""
        uploaded = self.cleaned_data.get("reference_images") or []
        mask = self.cleaned_data.get("mask")
        earlier = self.cleaned_data.get("references_from")
        if not uploaded and earlier is not None:
            uploaded, stored_mask = stored_references(earlier)
            mask = mask or stored_mask
        return uploaded, mask

    def clean_size(self):
        value = self.cleaned_data["size"].strip().lower()
        if value == "custom" or value in SIZE_PRESETS:
            return value
        try:
            width, height = parse_size(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return f"{width}x{height}"

    def requested_dimensions(self):
        """(width, height) from the cleaned size, or None if it cannot be known yet."""
        size = self.cleaned_data.get("size")
        if size is None:
            return None
        if size == "custom":
            width, height = self.cleaned_data.get("width"), self.cleaned_data.get("height")
            return (width, height) if width and height else None
        return parse_size(size)

    def clean(self):
        data = super().clean()
        if self.team is not None and self.user is not None and not self.team.can_run(self.user):
            raise forms.ValidationError(f"You are a viewer of {self.team}: only its owners and members run comparisons.")
        if data.get("size") == "custom" and self.requested_dimensions() is None:
            self.add_error("size", "A custom size needs both a width and a height.")
        prompt = data.get("prompt")
        keys = data.get("routes") or []
        dims = self.requested_dimensions()
        if not prompt or dims is None or self.errors:
            return data
        images, mask = self.references()
        if mask is not None and not images:
            self.add_error("mask", "A mask needs a reference image to apply to.")
        elif mask is not None and (mask.width, mask.height) != (images[0].width, images[0].height):
            self.add_error("mask", f"The mask is {mask.width}x{mask.height}; it must match the first reference "
                                   f"image, {images[0].width}x{images[0].height}.")
        request = self.image_request()
        try:
            limits.check_calls(len(keys) * request.n)
            if self.check_budget and self.team is not None:
                self.team.check_budget(self.call_costs())
        except limits.TooManyCalls as refused:
            self.add_error("routes", str(refused))
        except SubmitRefused as refused:
            self.add_error(None, str(refused))
        # the team's credentials, decrypted once, and the server's environment, read once, for every route
        values, server = team_env(self.team), catalog.server_env()
        for key in keys:
            route = self.route_map[key]
            found = catalog.route_access(route, self.team, values=values, server=server)
            if not found.configured:
                self.add_error("routes", found.problem or f"{key} is not configured: set {', '.join(found.missing)}.")
            limit = route.capabilities.prompt_limit
            if len(prompt) > limit:
                self.add_error("prompt", f"The prompt has {len(prompt):,} characters; {key} accepts at most {limit:,}.")
            for problem in route.capabilities.problems(request):
                if problem.code != "prompt_length":  # said above, with the prompt's own length
                    self.add_error("routes", f"{key} cannot do {problem}.")
            if request.images and route.capabilities.edit_needs_public_url and not settings.SITE_URL:
                self.add_error("routes", f"{key} fetches reference images by URL: set SITE_URL to this app's public "
                                         "address so it can.")
        return data

    def call_costs(self):
        """What each call of this comparison counts against the team's budget (compare/pricing.py)."""
        return pricing.call_costs(self.team, self.route_map, self.cleaned_data["routes"], self.image_request())

    def image_request(self):
        width, height = self.requested_dimensions()
        d = self.cleaned_data
        images, mask = self.references()
        return ImageRequest(prompt=d["prompt"], width=width, height=height, quality=d["quality"],
                            output_format=d["output_format"], n=d["n"], seed=d.get("seed"),
                            images=tuple(InputImage(c.data, f"image/{c.format}") for c in images),
                            mask=InputImage(mask.data) if mask else None)

    def params(self):
        """The parameters stored with the comparison (the same for every route)."""
        request = self.image_request()
        return {"size": request.size, "quality": request.quality, "output_format": request.output_format,
                "n": request.n, "seed": request.seed}


def rerun_form(comparison, user):
    """"Run again": the earlier comparison's prompt, routes, parameters, references and review
    flags as a bound ComparisonForm, so a rerun is validated like any submit (budget and call cap
    included)."""
    params = comparison.params
    data = {"prompt": comparison.prompt, "routes": comparison.route_keys, "size": params.get("size", "1024x1024"),
            "quality": params.get("quality", "auto"), "output_format": params.get("output_format", "png"),
            "n": params.get("n", 1)}
    if params.get("seed") is not None:
        data["seed"] = params["seed"]
    if comparison.references.exists():
        data["references_from"] = comparison.pk
    for flag in ("blind", "hold_images_until_done"):
        if getattr(comparison, flag):
            data[flag] = "on"
    return ComparisonForm(data=_as_querydict(data), team=comparison.team, user=user)


API_PARAMS = {"size", "quality", "n", "output_format", "seed"}


def form_from_json(payload, user):
    """The API's {"prompt", "routes", "params", "team"?, "images"?, "mask"?} body as a bound
    ComparisonForm, or an errors dict. Without "team", the user's personal team runs it."""
    if not isinstance(payload, dict):
        return None, {"__all__": ["The body must be a JSON object."]}
    errors = {}
    unknown = set(payload) - {"prompt", "routes", "params", "images", "mask", "team", "blind", "hold_images_until_done"}
    team = Team.personal_for(user)
    if payload.get("team") is not None:
        try:  # a JSON number only ("1" and true are not ids)
            pk = object_id(payload["team"], "team") if type(payload["team"]) is int else None
        except BadParameter:
            pk = None
        team = Team.objects.of(user).filter(pk=pk).first() if pk else None
        if team is None:
            errors["team"] = ["No team of yours has that id (GET /api/teams lists them)."]
    if unknown:
        errors["__all__"] = [f"Unknown field(s): {', '.join(sorted(unknown))}."]
    params = payload.get("params") or {}
    if not isinstance(params, dict):
        errors["params"] = ["params must be an object."]
        params = {}
    unknown = set(params) - API_PARAMS
    if unknown:
        errors["params"] = [f"Unknown parameter(s): {', '.join(sorted(unknown))}; use {', '.join(sorted(API_PARAMS))}."]
    routes = payload.get("routes")
    if routes is not None and (not isinstance(routes, list) or not all(isinstance(r, str) for r in routes)):
        errors["routes"] = ["routes must be a list of route keys."]
    prompt = payload.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        errors["prompt"] = ["prompt must be a string."]
    files, file_errors = _files_from_data_urls(payload.get("images"), payload.get("mask"))
    errors.update(file_errors)
    if errors:
        return None, errors
    data = {"prompt": prompt or "", "routes": routes or [], "size": "1024x1024", "quality": "auto",
            "output_format": "png", "n": 1}
    data.update({k: v for k, v in params.items() if v is not None})
    for flag in ("blind", "hold_images_until_done"):
        if payload.get(flag) is True:
            data[flag] = "on"
    return ComparisonForm(data=_as_querydict(data), files=files, team=team, user=user), None


def _files_from_data_urls(images, mask):
    """The API's "images": [data URL, ...] and "mask": data URL as uploaded files."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils.datastructures import MultiValueDict

    from providers.base import BadResponseError
    from providers.urls import decode_data_url

    files, errors = MultiValueDict(), {}
    if images is not None and (not isinstance(images, list) or not all(isinstance(i, str) for i in images)):
        return files, {"images": ["images must be a list of data: URLs (data:image/png;base64,...)."]}
    for field, values in (("reference_images", images or []), ("mask", [mask] if mask else [])):
        for n, value in enumerate(values):
            try:
                if not isinstance(value, str) or not value.startswith("data:"):
                    raise BadResponseError("not a data: URL")
                content, mime = decode_data_url(value)
            except BadResponseError:
                errors.setdefault("images" if field == "reference_images" else "mask", []).append(
                    f"Item {n + 1} is not a base64 data: URL.")
                continue
            files.appendlist(field, SimpleUploadedFile(f"{field}-{n + 1}", content, content_type=mime))
    return files, errors


def _as_querydict(data):
    from django.http import QueryDict

    qd = QueryDict(mutable=True)
    for key, value in data.items():
        if isinstance(value, list):
            qd.setlist(key, [str(v) for v in value])
        else:
            qd[key] = str(value)
    return qd
