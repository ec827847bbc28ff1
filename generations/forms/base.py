"""The machinery every creation form shares: media slots (an upload or a gallery pick), the
prompt, chaining, saving with uploads, and asking the schema what a combination rules out.

No rule of the API is written here. The schema validates; a form only maps the schema's
messages back onto its own fields, and asks the schema which options the current combination
rules out (`disabled_options`), so the page can grey them out with the same words.
"""

import contextlib
import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from django import forms
from django.db import transaction
from django.db.models import Q, QuerySet
from django.forms.forms import DeclarativeFieldsMetaclass
from django.forms.renderers import Jinja2
from django.utils.html import format_html_join
from django.utils.safestring import SafeString
from pydantic import BaseModel, ValidationError

from generations import providers
from generations.chaining import fits
from generations.models import (
    INPUT_PLACEHOLDER,
    Generation,
    Input,
    Lineage,
    State,
    work_label,
)
from generations.providers.agents import schema
from generations.tasks import start_generation
from generations.trash import bound_pending_uploads
from generations.uploads import (
    CheckedUpload,
    UploadRefused,
    check_image,
    check_video,
    copy_input,
    kept_input,
    kept_token,
    replace_placeholders,
    store,
)

MODEL_LABELS = {"uni-1": "uni-1 (fast)", "uni-1-max": "uni-1-max (best quality)"}
STRENGTH_LABELS = {
    "adhere_1": "Adhere 1 — keep almost everything",
    "adhere_2": "Adhere 2",
    "adhere_3": "Adhere 3",
    "flex_1": "Flex 1 — keep the layout, restyle",
    "flex_2": "Flex 2",
    "flex_3": "Flex 3",
    "reimagine_1": "Reimagine 1 — keep the idea, redraw",
    "reimagine_2": "Reimagine 2",
    "reimagine_3": "Reimagine 3 — only the motion survives",
}
# The ratios ray-3.2 renders (inferred: the server checks the per-model set).
VIDEO_RATIOS = ("21:9", "16:9", "4:3", "1:1", "3:4", "9:16")
IMAGE_KINDS = ("image", "image_edit", "layering")
VIDEO_KINDS = ("video", "video_edit", "video_reframe")
PICK_LIMIT = 60
NO_PICK = ("", "— none —")
# A pick list's pieces in a form made with `pick_marks`: one option for all, put in per page.
PICK_MARK = "viewerPickMark"
# How many jobs one Generate may make: each its own job with its own key, sharing a batch id.
VARIATIONS = [(1, "\u00d71"), (2, "\u00d72"), (4, "\u00d74")]  # times one, two, four
# What the form's own idempotency token (secrets.token_urlsafe) is made of: so never retry.py's
# "retry:<uuid>", which only a retry may carry.
FORM_KEY = re.compile(r"[A-Za-z0-9_-]*")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented pattern)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


@dataclass(frozen=True)
class Slot:
    """A media input of a form: an upload and/or a pick from the gallery."""

    name: str
    media: str  # "image", "video", or "frame" (an image, or a prior video's frame)
    role: str
    multiple: bool = False
    label: str = ""
    help: str = ""


@dataclass(frozen=True)
class Kept:
    """An upload kept from an earlier submit (a refused form's, what was just sent, a Remix's),
    named for the next submit by its token; the page shows it with a box to drop it."""

    token: str
    item: Input


@dataclass(frozen=True)
class SlotRow:
    slot: Slot
    upload: forms.BoundField
    pick: forms.BoundField
    kept: list[Kept]
    kept_name: str


def labelled_choices(values: Any, labels: dict[str, str] | None = None) -> list[tuple[str, str]]:
    return [(value, (labels or {}).get(value, value)) for value in values]


PICK_KINDS = {"image": IMAGE_KINDS, "video": VIDEO_KINDS, "frame": IMAGE_KINDS + VIDEO_KINDS}
# More chosen files than any upstream takes in one slot: the options check says "too many"
# for any count past it, and a count the page sends costs no more than this.
PROBE_MAX = 100


def pickable(media: str, providers: tuple[str, ...] | None = None) -> QuerySet[Generation]:
    """The team's finished pieces of one media kind, newest first, that a slot may pick; only
    those `providers` made, when the request names pieces by their upstream's id."""
    found: QuerySet[Generation] = Generation.objects.alive().filter(
        state=State.COMPLETED, kind__in=PICK_KINDS[media], upstream_id__isnull=False
    )
    if providers is not None:
        found = found.filter(provider__in=providers)
    return found


def pick_label(prompt: str, kind: str, model: str) -> str:
    """How a pick list names a piece: its prompt and its kind in words."""
    return f"{prompt[:60]} ({work_label(kind, model)})"


def pick_choices(media: str, providers: tuple[str, ...] | None = None) -> list[tuple[str, str]]:
    """The recent pickable pieces, for the gallery pick's plain list (the page's picker
    searches them all)."""
    recent = pickable(media, providers).values_list("uuid", "prompt", "kind", "model")
    return [NO_PICK, *((str(uuid), pick_label(*shown)) for uuid, *shown in recent[:PICK_LIMIT])]


def _pick_options(choices: Iterable[tuple[str, str]]) -> SafeString:
    """A pick list's options as its select writes them, none chosen."""
    return format_html_join("\n  ", '<option value="{}">{}</option>', choices)


def _pick_mark(media: str) -> tuple[str, str]:
    """The one option that stands for a pick list's pieces in a form made with `pick_marks`."""
    return (PICK_MARK + media, "")


def with_chosen(choices: list[tuple[str, str]], chosen: Any) -> list[tuple[str, str]]:
    """`choices` and the pieces `chosen` (one id or several) names that are older than the
    list: a chain link or the picker may name any piece. What is no piece at all stays out, for
    the field to refuse as a bad choice."""
    offered = dict(choices)
    values = chosen if isinstance(chosen, list | tuple) else [chosen]
    missing = [value for value in values if value and str(value) not in offered]
    if not missing:
        return choices
    older = Generation.objects.alive().named(missing).values_list("uuid", "prompt", "kind", "model")
    return [*choices, *((str(uuid), pick_label(*shown)) for uuid, *shown in older)]


class SlotFieldsMetaclass(DeclarativeFieldsMetaclass):
    """Gives a form the two fields of each of its SLOTS (an upload and a gallery pick): a slot
    is declared once, in SLOTS, never as fields written per form."""

    def __new__(mcs, name: str, bases: tuple[type, ...], attrs: dict[str, Any]) -> type:
        new_class: Any = super().__new__(mcs, name, bases, attrs)
        # Not among the declared fields, which subclasses inherit: each form has its own slots.
        new_class.base_fields = dict(new_class.declared_fields)
        for slot in getattr(new_class, "SLOTS", ()):
            new_class.base_fields[slot.name] = upload_field(slot)
            new_class.base_fields[f"{slot.name}_pick"] = pick_field(slot.multiple)
        # Last among the options: how many jobs one Generate makes.
        new_class.base_fields["variations"] = forms.TypedChoiceField(
            choices=VARIATIONS, coerce=int, initial=1, required=False, empty_value=1,
            label="Variations", help_text="Each one its own job, counted and billed as one.",
        )  # fmt: skip
        return new_class


# The studio forms' widgets (their selects, a pick list's options) go through Django's own Jinja2
# widget templates: the same HTML as the default renderer's, in less than half the time. Not
# settings.FORM_RENDERER: the admin's widgets exist as Django templates only.
WIDGETS = Jinja2()


class CreateForm(forms.Form, metaclass=SlotFieldsMetaclass):
    """What every mode shares: the prompt, the double-submit token, chaining and the slots."""

    default_renderer = WIDGETS

    KIND: ClassVar[str]
    # Its name in the studio's mode switch and URLs (`?mode=`), a key of MODE_FORMS.
    MODE: ClassVar[str]
    # Its label in the mode switch (the page adds a provider's name but the Agents API's).
    LABEL: ClassVar[str]
    # The upstream (generations/providers/) the job goes to, and its request model.
    PROVIDER: ClassVar[str] = "agents"
    REQUEST: ClassVar[type[BaseModel]] = schema.GenerationRequest
    # Whose pieces the gallery picks offer (None: anyone's); Agents requests name a piece by
    # its Agents id, so only the Agents API's own pieces.
    PICKS_FROM: ClassVar[tuple[str, ...] | None] = ("agents",)
    SLOTS: ClassVar[tuple[Slot, ...]] = ()
    # Slots a job cannot go without, said in plain words before the schema's own check (whose
    # words for a missing object are pydantic's: `missing_media`).
    NEEDS: ClassVar[tuple[str, ...]] = ()
    # Schema path (dotted, no list indexes) → form field showing its messages.
    FIELD_FOR_PATH: ClassVar[dict[str, str]] = {}
    # Options the page greys out when the schema says the current combination rules them out.
    PROBED: ClassVar[tuple[str, ...]] = ()
    PROMPT_MAX: ClassVar[int] = schema.PROMPT_MAX
    # Fields the page lays out itself rather than in the options list.
    LAYOUT_FIELDS: ClassVar[tuple[str, ...]] = ()
    # Options that count only while "auto_controls" is unticked: the page shows them only then.
    CONTROLS: ClassVar[tuple[str, ...]] = ()

    prompt = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "data-counter": "prompt"}),
        strip=False,
        required=False,  # the schema refuses an empty prompt with its own message
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)
    parent = forms.UUIDField(widget=forms.HiddenInput, required=False)
    lineage = forms.ChoiceField(
        choices=[("", ""), *Lineage.choices], widget=forms.HiddenInput, required=False
    )

    def __init__(
        self,
        *args: Any,
        refused: dict[str, str] | None = None,
        user: Any = None,
        pick_marks: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        # Each pick list is NO_PICK and PICK_MARK's option, not the gallery's pieces.
        self.pick_marks = pick_marks
        # Uploads left unread for their size (uploads.CappedUploadHandler), by field: why.
        self.refused = refused or {}
        # Who submits: the kept uploads' tokens are theirs only.
        self.user = user
        if not self.is_bound and "idempotency_key" not in self.initial:
            self.initial["idempotency_key"] = secrets.token_urlsafe(24)
        self.fields["prompt"].widget.attrs["data-max"] = self.PROMPT_MAX
        self.fields["prompt"].widget.attrs["placeholder"] = self.PLACEHOLDER
        self._offered: dict[str, list[tuple[str, str]]] = {}
        for slot in self.SLOTS:
            name = f"{slot.name}_pick"
            choices = self.offered(slot.media)
            if slot.multiple:
                choices = choices[1:]  # no "none" among several
            field = self.fields[name]
            raw = field.widget.value_from_datadict(self.data, self.files, self.add_prefix(name))
            chosen = self.initial.get(name) or raw
            field.choices = with_chosen(choices, chosen)  # type: ignore[attr-defined]
        self.upstream_request: BaseModel | None = None
        self.parent_job: Generation | None = None
        # New uploads and kept ones this submit sends, each with its key and the field it is in
        # (a slot, or a keyframe row's `kept`).
        self._uploads: list[tuple[uuid.UUID, CheckedUpload, str, str]] = []
        self._reused: list[tuple[uuid.UUID, Input, str, str]] = []
        # The jobs save() recorded: one, or each variation.
        self.made: list[Generation] = []
        self.kept: dict[str, list[Kept]] = {}
        self.kept_gone: set[str] = set()
        for slot in self.SLOTS:
            self._read_kept(f"{slot.name}_kept")

    def clean_prompt(self) -> str:
        """The prompt with each line break as the page counts it: one character (browsers send
        CR LF)."""
        return str(self.cleaned_data["prompt"]).replace("\r\n", "\n")

    def _kept_tokens(self, name: str) -> list[str]:
        """The kept uploads' tokens a field holds: posted, or in the initial values."""
        if self.is_bound:
            getlist = getattr(self.data, "getlist", None)
            value = getlist(name) if getlist else self.data.get(name)
        else:
            value = self.initial.get(name)
        values = value if isinstance(value, list | tuple) else [value]
        return [str(token) for token in values if token]

    def _read_kept(self, name: str) -> None:
        """The uploads a field's tokens name, if they are this person's to use."""
        for token in self._kept_tokens(name):
            item = kept_input(token, self.user)
            if item is None:
                self.kept_gone.add(name)
            else:
                self.kept.setdefault(name, []).append(Kept(token, item))

    PLACEHOLDER: ClassVar[str] = "Describe what you want…"
    # What a chain link's form takes from its source (chaining.inherited): not the prompt where
    # it says something else (how to split, a soundtrack, what fills a reframe's new parts), not
    # the aspect ratio where changing it is the point (a reframe).
    INHERITS: ClassVar[tuple[str, ...]] = ("prompt", "aspect_ratio")

    def slot_rows(self) -> list[SlotRow]:
        return [
            SlotRow(
                s,
                self[s.name],
                self[f"{s.name}_pick"],
                self.kept.get(f"{s.name}_kept", []),
                self.add_prefix(f"{s.name}_kept"),
            )
            for s in self.SLOTS
        ]

    # --- turning the form into a request ---

    def body(self, data: dict[str, Any], refs: dict[str, Any]) -> dict[str, Any]:
        """The request body for this mode from cleaned data and the slots' references."""
        raise NotImplementedError

    # --- the provider's words for a request and its media references ---

    @classmethod
    def made(cls, generation: Generation) -> bool:
        """Whether this form makes jobs like `generation` (its Remix opens this form)."""
        return generation.provider == cls.PROVIDER and generation.kind == cls.KIND

    @classmethod
    def validate(cls, body: dict[str, Any]) -> BaseModel:
        """The body as the provider's request model; raises pydantic's ValidationError."""
        return cls.REQUEST.model_validate(body)

    def offered(self, media: str) -> list[tuple[str, str]]:
        """The gallery pick's plain list for one media kind, read once per form: the slots and
        keyframe rows that take the same kind share it."""
        if media not in self._offered:
            marked = [NO_PICK, _pick_mark(media)]
            self._offered[media] = (
                marked if self.pick_marks else pick_choices(media, self.PICKS_FROM)
            )
        return self._offered[media]

    def pick_lists(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """Every pick list the form offers (each read when the form was made)."""
        return sorted(self._offered.items())

    def fill_pick_lists(self, html: str) -> str:
        """`html`, rendered from a form of this class made with `pick_marks`, with this form's
        pick lists in place of the marks (views._empty_panel)."""
        for media, choices in self.pick_lists():
            html = html.replace(_pick_options([_pick_mark(media)]), _pick_options(choices[1:]))
        return html

    def pick_ref(self, picked: Generation, slot: Slot) -> Any:
        """A reference to a finished piece of the gallery."""
        return schema.ImageRef(generation_id=picked.upstream_id)

    def upload_ref(self, placeholder: str, mime_type: str, slot: Slot) -> Any:
        """A reference to an upload, by the placeholder its job's request keeps."""
        return schema.ImageRef(file_id=placeholder, media_type=mime_type)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not FORM_KEY.fullmatch(data.get("idempotency_key") or ""):
            self.add_error(None, "This form is out of date: reload the page and try again.")
        for name, message in self.refused.items():
            row = "keyframes" if name.startswith("kf-") else name  # a timeline row's image
            self.add_error(row if row in self.fields else None, message)
        # The slots are read whatever else is wrong: their uploads are kept for the next submit.
        refs = self._slot_refs(data)
        for slot in self.SLOTS:
            if slot.name in self.NEEDS and not refs.get(slot.name) and not self._refused(slot):
                self.add_error(*self.missing_media(slot))
        # A field already refused is not refused twice, nor a slot (its upload, pick or kept).
        refused = set(self.errors).union(*(_slot_fields(s) for s in self.SLOTS if self._refused(s)))
        try:
            request = self.validate(self.body(data, refs))
        except ValidationError as exc:
            # Said with the refusals above, so that one submit shows everything to mend.
            for path, messages in schema.field_errors(exc).items():
                field = self.FIELD_FOR_PATH.get(path)
                if field not in refused:
                    for message in messages:
                        self.add_error(field, plain(message))
            return data
        if not self.errors:
            self.upstream_request = request
            self.parent_job = self._parent(data, request)
        return data

    def _refused(self, slot: Slot) -> bool:
        return not _slot_fields(slot).isdisjoint(self.errors)

    def missing_media(self, slot: Slot) -> tuple[str, str]:
        """The field that says a needed slot is empty, and what it says."""
        return slot.name, f"Pick or upload the {slot.label.lower()}."

    def _parent(self, data: dict[str, Any], request: BaseModel) -> Generation | None:
        """The piece this job is made from, if it really is (chaining.fits): a link the hidden
        fields claim but the request does not bear out is dropped, and the job made unlinked."""
        if not data.get("parent"):
            return None
        parent = Generation.objects.filter(uuid=data["parent"]).first()
        lineage = data.get("lineage") or ""
        # The request as its job would store it: what the provider reads references from.
        stored = providers.get(self.PROVIDER).prepare(request, user_id="")
        if parent is None or not fits(parent, self, lineage, stored):
            return None
        return parent

    def _slot_refs(self, data: dict[str, Any]) -> dict[str, Any]:
        """References for every slot: gallery picks by generation id, uploads as placeholders."""
        refs: dict[str, Any] = {}
        for slot in self.SLOTS:
            found = self._refs(
                slot, data.get(f"{slot.name}_pick"), data.get(slot.name), f"{slot.name}_kept"
            )
            if not slot.multiple and len(found) > 1:
                self.add_error(slot.name, "Upload a file or pick one from the gallery, not both.")
            refs[slot.name] = found if slot.multiple else (found[0] if found else None)
        return refs

    def _refs(self, slot: Slot, picks: Any, uploads: Any, kept: str) -> list[Any]:
        """The references one slot (or one keyframe) names; problems go on its field. `kept`
        names the field of its kept uploads: used as they are unless a single slot was given a
        new upload or pick, which replaces them."""
        found: list[Any] = []
        new = [upload for upload in (uploads if isinstance(uploads, list) else [uploads]) if upload]
        picks = [pick for pick in (picks if isinstance(picks, list) else [picks]) if pick]
        if kept in self.kept_gone:
            self.add_error(slot.name, "A file kept from before is gone: upload it again.")
        if slot.multiple or not (new or picks):
            for entry in self.kept.get(kept, []):
                key = uuid.uuid4()
                self._reused.append((key, entry.item, slot.role, kept))
                placeholder = f"{INPUT_PLACEHOLDER}{key}"
                found.append(self.upload_ref(placeholder, entry.item.mime_type, slot))
        else:
            self.kept.pop(kept, None)  # replaced: a refused form shows the new one
        for pick in picks:
            picked = Generation.objects.alive().filter(uuid=pick, state=State.COMPLETED).first()
            # A keyframe row's pick has no field of its own: the timeline shows it.
            field = f"{slot.name}_pick" if f"{slot.name}_pick" in self.fields else slot.name
            if picked is None or picked.upstream_id is None:
                self.add_error(field, "That piece is not finished or is gone.")
            elif not self._may_pick(picked):
                makers = providers.labels(self.PICKS_FROM or ())
                self.add_error(field, f"Only pieces made with {makers} fit here: pick another.")
            elif picked.kind not in PICK_KINDS[slot.media]:  # a script's: the lists offer none
                video = picked.kind in VIDEO_KINDS
                self.add_error(
                    field,
                    f"That piece is {'a video' if video else 'an image'}:"
                    f" pick {'an image' if video else 'a video'} here.",
                )
            else:
                found.append(self.pick_ref(picked, slot))
        for upload in new:
            try:
                checked = self._check(upload, slot)
            except UploadRefused as exc:
                self.add_error(slot.name, str(exc))
                continue
            key = uuid.uuid4()
            self._uploads.append((key, checked, slot.role, kept))
            found.append(self.upload_ref(f"{INPUT_PLACEHOLDER}{key}", checked.mime_type, slot))
        return found

    def _may_pick(self, picked: Generation) -> bool:
        return self.PICKS_FROM is None or picked.provider in self.PICKS_FROM

    def _check(self, upload: Any, slot: Slot) -> CheckedUpload:
        # Uploads into a "frame" slot are images; prior videos come as gallery picks.
        if slot.media == "video":
            limit = schema.MAX_EDIT_SOURCE_SECONDS if self.KIND == "video_edit" else None
            return check_video(upload, max_seconds=limit)
        return check_image(upload)

    def again(self, generation: Generation) -> dict[str, Any]:
        """The values just sent, as the next form's initial (JSON, for a session between a
        redirect and the page): the same prompt, options, picks and uploads (the job's own, by
        token), under a new double-submit key, so pressing Generate again makes another job."""
        initial: dict[str, Any] = {
            name: str(value) if isinstance(value, uuid.UUID) else value
            for name, value in self.cleaned_data.items()
            if name != "idempotency_key" and not isinstance(self.fields[name], forms.FileField)
        }
        stored = {item.uuid: item for item in generation.inputs.all()}
        for key, _, _, field in [*self._uploads, *self._reused]:
            if key in stored:
                initial.setdefault(field, []).append(kept_token(stored[key], self.user))
        return initial

    def keep_uploads(self) -> None:
        """Keep this refused submit's checked uploads (no job yet), shown on its slots and sent
        with the next submit by their tokens: nothing uploaded is lost to a form error."""
        for key, checked, role, field in self._uploads:
            item = store(checked, user=self.user, role=role, key=key, generation=None)
            self.kept.setdefault(field, []).append(Kept(kept_token(item, self.user), item))
        if self._uploads:  # what this form shows as kept stays, older forms' uploads may go
            shown = [kept.item for found in self.kept.values() for kept in found]
            bound_pending_uploads(self.user, shown)
        self._uploads = []

    @property
    def made_from(self) -> Generation | None:
        """The piece this one is made from, as the form stands, or None: by the field's clean
        value, never its raw input (" " or a broken id links nowhere). It may be in the Trash
        since (`deleted_at`): then it is named, not linked."""
        try:
            parent = self.fields["parent"].clean(self["parent"].value())
        except forms.ValidationError:
            return None
        if not parent:
            return None
        return Generation.objects.filter(uuid=parent).only("uuid", "deleted_at").first()

    @classmethod
    def initial_from(cls, generation: Generation, user: Any = None) -> dict[str, Any]:
        """The form's values for an existing job's exact request (Remix): its options, its
        gallery picks, and (for `user`, by token) its uploads, which a new job reuses."""
        initial: dict[str, Any] = {"parent": generation.uuid, "lineage": Lineage.REMIX}
        for path, name in cls.FIELD_FOR_PATH.items():
            value = dig_path(generation.request, path)
            if value is None or isinstance(value, list | dict) or name in initial:
                continue
            if name.endswith("_pick"):
                picked = Generation.objects.filter(upstream_id=value).only("uuid").first()
                if picked is not None:
                    initial[name] = str(picked.uuid)
            elif not isinstance(cls.base_fields.get(name), forms.FileField | None):
                initial[name] = value
        for slot in cls.SLOTS:
            refs = [dig_path(generation.request, path)
                    for path, name in cls.FIELD_FOR_PATH.items() if name == slot.name]  # fmt: skip
            uploads, picks = references_in(refs)
            if tokens := kept_tokens(uploads, user, generation):
                initial[f"{slot.name}_kept"] = tokens
            if picks and f"{slot.name}_pick" not in initial:
                found = Generation.objects.filter(upstream_id__in=picks).values_list(
                    "upstream_id", "uuid"
                )
                by_id = {upstream_id: str(uuid) for upstream_id, uuid in found}
                chosen = [by_id[pick] for pick in picks if pick in by_id]
                if chosen:
                    initial[f"{slot.name}_pick"] = chosen if slot.multiple else chosen[0]
        return initial

    def save(self, user: Any) -> tuple[Generation, bool]:
        """Record the job (or its variations) and its uploads together, then hand each to the
        worker. Variations are refused together, before anything is recorded, when the limits
        cannot take them all; a repeated key finds the first and makes no more."""
        assert self.upstream_request is not None
        parent = self.parent_job
        count = self.cleaned_data.get("variations") or 1
        key = self.cleaned_data.get("idempotency_key") or None
        options: dict[str, Any] = {
            "provider": self.PROVIDER,
            "parent": parent,
            "lineage": (self.cleaned_data.get("lineage") or Lineage.REMIX) if parent else "",
        }
        with transaction.atomic():
            generation, created = start_generation(
                user,
                self.upstream_request,
                idempotency_key=key,
                check_limits=True,  # a person pressed Generate: their rate and budget apply
                jobs=count,
                **options,
            )
            if not created:
                return generation, created
            for key_, checked, role, _ in self._uploads:
                store(checked, user=user, role=role, key=key_, generation=generation)
            for key_, item, _, _ in self._reused:
                copy_input(item, key=key_, generation=generation)
            if count > 1:
                Generation.objects.filter(pk=generation.pk).update(batch=generation.uuid)
                generation.batch = generation.uuid
            self.made = [generation] + [
                self._variation(user, generation, number, key, options)
                for number in range(2, count + 1)
            ]
        return generation, created

    def _variation(
        self, user: Any, first: Generation, number: int, key: str | None, options: dict[str, Any]
    ) -> Generation:
        """Another job of the same request (already counted against the limits with the first),
        with its own key and its own copies of the first one's uploads."""
        assert self.upstream_request is not None
        originals = list(first.inputs.order_by("id"))
        fresh = {item.placeholder: uuid.uuid4() for item in originals}
        request = self.upstream_request
        if fresh:
            dumped = request.model_dump(mode="json", by_alias=True, exclude_unset=True)
            renamed = {old: f"{INPUT_PLACEHOLDER}{new}" for old, new in fresh.items()}
            request = type(request).model_validate(replace_placeholders(dumped, renamed))
        generation, _ = start_generation(
            user,
            request,
            idempotency_key=f"{key[:56]}:{number}" if key else None,
            batch=first.uuid,
            **options,
        )
        for item in originals:
            copy_input(item, key=fresh[item.placeholder], generation=generation)
        return generation

    # --- what the current combination rules out ---

    def disabled_options(self) -> dict[str, dict[str, str]]:
        """For each probed field, the values the schema would refuse now, with its reason."""
        base = self._lenient_data()
        refs = self._probe_all_refs()
        disabled: dict[str, dict[str, str]] = {}
        for name in self.PROBED:
            field = self.fields[name]
            for value in _probe_values(field):
                trial = {**base, name: field.clean(value)}
                try:
                    self.validate(self.body(trial, refs))
                except ValidationError as exc:
                    reasons = [
                        plain(message)
                        for path, messages in schema.field_errors(exc).items()
                        if self.FIELD_FOR_PATH.get(path) == name
                        for message in messages
                    ]
                    if reasons:
                        disabled.setdefault(name, {})[value] = reasons[0]
        return disabled

    def combination_problems(self) -> dict[str, list[str]]:
        """The schema's messages about the combination as it stands (slots counted as the page
        says they are filled), by form field ("" for the whole request)."""
        try:
            self.validate(self.body(self._lenient_data(), self._probe_all_refs()))
        except ValidationError as exc:
            problems: dict[str, list[str]] = {}
            for path, messages in schema.field_errors(exc).items():
                problems.setdefault(self.FIELD_FOR_PATH.get(path, ""), []).extend(
                    map(plain, messages)
                )
            return problems
        return {}

    def _lenient_data(self) -> dict[str, Any]:
        """The non-file fields as cleaned as they can be; a bad one counts as unset."""
        data: dict[str, Any] = {}
        for name, field in self.fields.items():
            if isinstance(field, forms.FileField):
                continue
            raw = (
                field.widget.value_from_datadict(self.data, self.files, self.add_prefix(name))
                if self.is_bound
                else self.get_initial_for_field(field, name)
            )
            try:
                data[name] = field.clean(raw)
            except forms.ValidationError:
                data[name] = None
        data["prompt"] = data.get("prompt") or "probe"
        return data

    def _probe_all_refs(self) -> dict[str, Any]:
        return {slot.name: self._probe_refs(slot) for slot in self.SLOTS}

    def _probe_refs(self, slot: Slot) -> Any:
        """A slot counts as filled when the page says files are chosen, a piece is picked or an
        upload is kept."""
        values = self.data if self.is_bound else self.initial
        try:
            count = min(max(0, int(values.get(f"{slot.name}_count") or 0)), PROBE_MAX)
        except ValueError:
            count = 0
        name = f"{slot.name}_pick"
        picks = (
            self.fields[name].widget.value_from_datadict(self.data, self.files, name)
            if self.is_bound
            else self.initial.get(name)
        )
        count += len(picks) if isinstance(picks, list) else bool(picks)
        count += len(self._kept_tokens(f"{slot.name}_kept"))
        mime = "video/mp4" if slot.media == "video" else "image/png"
        ref = self.upload_ref(f"{INPUT_PLACEHOLDER}probe", mime, slot)
        return [ref] * count if slot.multiple else (ref if count else None)


def references_in(value: Any) -> tuple[list[uuid.UUID | str], list[str]]:
    """The uploads and the gallery pieces (by upstream id) a part of a stored request names, in
    order, each once. An upload is named by its Input's uuid (a placeholder) or, once sent,
    by its upstream file id (the Agents provider stores the request as sent)."""
    uploads: list[uuid.UUID | str] = []
    picks: list[str] = []
    if isinstance(value, dict):
        if isinstance(value.get("generation_id"), str):
            picks.append(value["generation_id"])
        file_id = value.get("file_id")
        if isinstance(file_id, str) and file_id and not file_id.startswith(INPUT_PLACEHOLDER):
            uploads.append(file_id)
        parts: Any = value.values()
    elif isinstance(value, list):
        parts = value
    else:
        if isinstance(value, str) and value.startswith(INPUT_PLACEHOLDER):
            with contextlib.suppress(ValueError):
                uploads.append(uuid.UUID(value.removeprefix(INPUT_PLACEHOLDER)))
        return uploads, picks
    for part in parts:
        more_uploads, more_picks = references_in(part)
        uploads += [u for u in more_uploads if u not in uploads]
        picks += [p for p in more_picks if p not in picks]
    return uploads, picks


def kept_tokens(uploads: list[uuid.UUID | str], user: Any, job: Generation) -> list[str]:
    """Tokens for `user` to reuse these stored uploads of `job` (those still kept), in order:
    only its maker's (Input.made_by), whatever ids its request names (an agent writes them)."""
    if user is None or not uploads:
        return []
    keys = [key for key in uploads if isinstance(key, uuid.UUID)]
    file_ids = [key for key in uploads if isinstance(key, str)]
    found: dict[uuid.UUID | str, Input] = {}
    named = Q(uuid__in=keys) | Q(file_id__in=file_ids)
    for item in Input.objects.filter(named, Input.made_by(job.created_by_id)):
        found[item.uuid] = item
        if item.file_id:
            found.setdefault(item.file_id, item)
    return [kept_token(found[key], user) for key in uploads if key in found]


# The API's names for things, as a person would say them on the form (schema messages are
# written for API callers: the simulator and the MCP tools show them as they are).
PLAIN_NAMES = {
    "start_frame": "a start frame",
    "end_frame": "an end frame",
    "keyframe_indexes": "keyframe positions",
    "image_ref": "reference images",
    "source_position": "the source position",
    "exr_export": "EXR export",
    "hdr": "HDR",
    "media_type": "file type",
    "image_edit": "image edits",
    "video_edit": "video edits",
    "video_reframe": "reframes",
    "generation_id": "gallery piece",
    "file_id": "upload",
}
_API_NAME = re.compile(r"\b(?:video\.)?(" + "|".join(PLAIN_NAMES) + r")\b")


def plain(message: str) -> str:
    """A schema message in plain words: no API field names, a capital to start."""
    worded = _API_NAME.sub(lambda found: PLAIN_NAMES[found[1]], message)
    return worded[:1].upper() + worded[1:]


def dig_path(body: dict[str, Any], path: str) -> Any:
    value: Any = body
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _probe_values(field: forms.Field) -> list[str]:
    if isinstance(field, forms.BooleanField):
        return ["on"]
    return [str(value) for value, _ in field.choices if value != ""]  # type: ignore[attr-defined]


def upload_field(slot: Slot) -> forms.FileField:
    """A slot's upload: one file, or several for a multiple slot."""
    accept = "video/*" if slot.media == "video" else "image/png,image/jpeg,image/webp"
    if slot.multiple:
        return MultipleFileField(required=False, widget=MultipleFileInput(attrs={"accept": accept}))
    return forms.FileField(
        required=False, widget=forms.ClearableFileInput(attrs={"accept": accept})
    )


def _slot_fields(slot: Slot) -> set[str]:
    """The form fields of a slot: its upload, its pick and its kept uploads."""
    return {slot.name, f"{slot.name}_pick", f"{slot.name}_kept"}


def pick_field(multiple: bool = False) -> forms.ChoiceField:
    """A slot's gallery pick (several for a multiple slot, as its upload takes several files);
    its choices are filled in per form (recent finished pieces, and what is picked)."""
    # A piece no longer offered: trashed (in another tab, by a teammate) since it was picked.
    gone = {
        "invalid_choice": "The piece picked here can no longer be picked (it was moved to the "
        "Trash, or is not one this mode takes): pick another."
    }
    if multiple:
        return forms.MultipleChoiceField(required=False, choices=[], error_messages=gone)
    return forms.ChoiceField(required=False, choices=[], error_messages=gone)


def slot_error_paths(name: str) -> dict[str, str]:
    """Where the schema's messages about a slot's reference go: the upload, or the pick."""
    return {
        name: name,
        f"{name}.file_id": name,
        f"{name}.media_type": name,
        f"{name}.generation_id": f"{name}_pick",
    }


def true_or_none(value: Any) -> bool | None:
    """A checkbox as the API wants it: true, or left out."""
    return True if value else None


@dataclass(frozen=True)
class OptionRow:
    """An option as the page shows it: the field, and the values ruled out now, with why."""

    field: forms.BoundField
    disabled: dict[str, str]

    @property
    def is_checkbox(self) -> bool:
        return isinstance(self.field.field, forms.BooleanField)

    @property
    def is_choice(self) -> bool:
        return isinstance(self.field.field, forms.ChoiceField)

    @property
    def reason(self) -> str:
        """Why what it holds is ruled out: a checkbox's one value, or a list's chosen value (a
        value greyed out in the list but not chosen asks nothing of the person)."""
        value = "on" if self.is_checkbox else str(self.field.value())
        return self.disabled.get(value, "")


def option_rows(form: CreateForm, disabled: dict[str, dict[str, str]]) -> list[OptionRow]:
    """The form's options (everything but the prompt, media slots and layout fields)."""
    skip = {"prompt", "keyframes", *form.LAYOUT_FIELDS}
    for slot in form.SLOTS:
        skip |= {slot.name, f"{slot.name}_pick"}
    return [
        OptionRow(field, disabled.get(field.name, {}))
        for field in form
        if field.name not in skip and not field.is_hidden
    ]
