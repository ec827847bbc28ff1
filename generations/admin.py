"""The admin for jobs: find failures with filters, read everything about one, act on them.

A job's page is read-only: the request and every upstream reply pretty-printed, the state
timeline, request ids, inputs and outputs. Its buttons post to the triage page's action view;
the list's actions do the same for many jobs at once.
"""

import json
from collections import Counter
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from generations import providers, retry, tasks
from generations.boards import BoardForm
from generations.explanations import explain
from generations.models import (
    NAMED_FOR_THEIR_WORK,
    Board,
    Generation,
    GenerationQuerySet,
    Kind,
    Output,
    PersonBudget,
    Price,
)
from generations.wording import ago

REF_KEYS = ("generation_id", "file_id", "url", "data")

admin.site.site_header = admin.site.site_title = "lumaweb admin"


class ReviewActionForm(helpers.ActionForm):
    note = forms.CharField(
        required=False,
        label="Note",
        widget=forms.TextInput(attrs={"placeholder": "for “Mark reviewed”", "size": 30}),
    )


class FailureCodeFilter(admin.SimpleListFilter):
    title = "failure code"
    parameter_name = "failure_code"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        codes = (
            Generation.objects.exclude(failure_code="")
            .order_by("failure_code")
            .values_list("failure_code", flat=True)
            .distinct()
        )
        return [(code, f"{explain(code).title} ({code})") for code in codes]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Generation]) -> Any:
        return queryset.filter(failure_code=self.value()) if self.value() else queryset


class ReviewFilter(admin.SimpleListFilter):
    title = "review"
    parameter_name = "review"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("needs", "Needs review"), ("yes", "Reviewed"), ("no", "Not reviewed")]

    def queryset(self, request: HttpRequest, queryset: GenerationQuerySet) -> Any:
        if self.value() == "needs":
            return queryset.needs_review()
        if self.value() in ("yes", "no"):
            return queryset.filter(reviewed_at__isnull=self.value() == "no")
        return queryset


class StuckFilter(admin.SimpleListFilter):
    title = "progress"
    parameter_name = "stuck"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", f"Stuck (unfinished over {settings.LUMAWEB_STUCK_AFTER / 60:g} min)")]

    def queryset(self, request: HttpRequest, queryset: GenerationQuerySet) -> Any:
        return queryset.stuck() if self.value() == "yes" else queryset


class RetryFilter(admin.SimpleListFilter):
    title = "retries"
    parameter_name = "retries"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("auto", "Automatic retries"),
            ("hand", "Retries by an admin"),
            ("retried", "Replaced by a retry"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Generation]) -> Any:
        if self.value() == "auto":
            return queryset.filter(auto_retry__gt=0)
        if self.value() == "hand":
            return queryset.filter(lineage="retry", auto_retry=0)
        if self.value() == "retried":
            return queryset.filter(retried_as__isnull=False)
        return queryset


class TrashFilter(admin.SimpleListFilter):
    title = "trash"
    parameter_name = "trash"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("in", "In the trash"), ("out", "Not in the trash")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Generation]) -> Any:
        if self.value() == "in":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "out":
            return queryset.filter(deleted_at__isnull=True)
        return queryset


NOT_ARCHIVED = format_html('<span class="admin-thumb admin-thumb--none">{}</span>', "Not archived")


def thumbnail_url(output: Output) -> str:
    """Our archived copy, never Luma's link (it dies within the hour): "" until archived."""
    if not output.is_archived:
        return ""
    return output.src("original" if output.is_video else "thumb")


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = (
        "thumbnail",
        "prompt_excerpt",
        "created_by",
        "kind",
        "model",
        "state",
        "failure",
        "age",
        "reviewed",
        "deleted",
    )
    list_display_links = ("thumbnail", "prompt_excerpt")
    list_filter = (
        "state",
        FailureCodeFilter,
        "kind",
        "model",
        "via",
        ("created_by", admin.RelatedOnlyFieldListFilter),
        ReviewFilter,
        StuckFilter,
        RetryFilter,
        TrashFilter,
        "created_at",
    )
    list_select_related = ("created_by", "deleted_by")
    search_fields = ("prompt", "upstream_id", "uuid", "created_by__username")
    search_help_text = "Prompt, Luma id, our id or person."
    action_form = ReviewActionForm
    actions = ("retry_jobs", "refresh_jobs", "mark_reviewed", "reopen_jobs")
    fieldsets = (
        (None, {"fields": ("uuid", "state", "explanation", "failure_reason", "review", "family")}),
        ("Trash", {"fields": (("deleted_at", "deleted_by"),)}),
        (
            "Request",
            {"fields": ("created_by", "kind", "model", "prompt", "inputs", "request_json")},
        ),
        (
            "Upstream",
            {"fields": ("upstream_id", "poll_count", "request_ids", "upstream_json")},
        ),
        (
            "Timeline",
            {
                "fields": (
                    ("created_at", "submitted_at", "started_at", "finished_at"),
                    ("last_polled_at", "next_poll_at", "submit_after"),
                    "timeline",
                )
            },
        ),
        ("Outputs", {"fields": ("outputs",)}),
    )
    readonly_fields = (
        "uuid",
        "state",
        "explanation",
        "failure_reason",
        "review",
        "family",
        "created_by",
        "kind",
        "model",
        "prompt",
        "inputs",
        "request_json",
        "upstream_id",
        "poll_count",
        "request_ids",
        "upstream_json",
        "created_at",
        "submitted_at",
        "started_at",
        "finished_at",
        "last_polled_at",
        "next_poll_at",
        "submit_after",
        "timeline",
        "outputs",
        "deleted_at",
        "deleted_by",
    )

    class Media:
        css = {"all": ("css/triage.css",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Generation]:
        return super().get_queryset(request).prefetch_related("outputs")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # jobs start from the studio's forms

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the history is kept forever

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # Nothing on the page is edited: its buttons are the review actions.
        context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        return super().change_view(request, object_id, form_url, context)

    # --- list columns ---

    @admin.display(description="")
    def thumbnail(self, obj: Generation) -> SafeString | str:
        first = next(iter(obj.outputs.all()), None)
        if first is None:
            return ""
        if not thumbnail_url(first):
            return NOT_ARCHIVED
        if first.is_video:
            return format_html(
                '<video class="admin-thumb" src="{}" muted preload="metadata"></video>',
                thumbnail_url(first),
            )
        return format_html(
            '<img class="admin-thumb" src="{}" alt="" loading="lazy">', thumbnail_url(first)
        )

    @admin.display(description="prompt", ordering="prompt")
    @admin.display(description="deleted")
    def deleted(self, obj: Generation) -> str:
        """Who put it in the trash, and when; empty when it is not there."""
        if obj.deleted_at is None:
            return ""
        who = obj.deleted_by.get_username() if obj.deleted_by else "someone since removed"
        return f"by {who}, {obj.deleted_at:%Y-%m-%d %H:%M}"

    def prompt_excerpt(self, obj: Generation) -> str:
        return obj.prompt if len(obj.prompt) <= 80 else obj.prompt[:79] + "…"

    @admin.display(description="failure", ordering="failure_code")
    def failure(self, obj: Generation) -> SafeString | str:
        if not obj.failure_code:
            return ""
        return format_html('<span title="{}">{}</span>', obj.explanation.title, obj.failure_code)

    @admin.display(description="age", ordering="-created_at")
    def age(self, obj: Generation) -> str:
        return ago(obj.created_at)

    @admin.display(description="reviewed", boolean=True, ordering="reviewed_at")
    def reviewed(self, obj: Generation) -> bool:
        return obj.reviewed_at is not None

    # --- the read-only detail ---

    @admin.display(description="what went wrong")
    def explanation(self, obj: Generation) -> SafeString | str:
        if not obj.failure_code:
            return "Nothing." if obj.state == "completed" else "Not finished."
        why = obj.explanation
        policy = (
            "retried automatically"
            if retry.is_transient(obj.failure_code)
            else "never retried automatically"
        )
        return format_html(
            '<div class="explanation"><strong>{}</strong> <code>{}</code>, {}<p>{}</p>'
            "<p><strong>Suggested fix:</strong> {}</p></div>",
            why.title,
            obj.failure_code,
            policy,
            why.advice,
            why.fix,
        )

    @admin.display(description="review")
    def review(self, obj: Generation) -> SafeString | str:
        if obj.reviewed_at is None:
            return "Not reviewed."
        who = obj.reviewed_by.get_username() if obj.reviewed_by else "someone"
        return format_html("Reviewed by {} {}. {}", who, ago(obj.reviewed_at), obj.review_note)

    @admin.display(description="lineage")
    def family(self, obj: Generation) -> SafeString | str:
        parts = []
        if obj.parent:
            parts.append(
                format_html(
                    '{} <a href="{}">{}</a>{}',
                    obj.get_lineage_display() or "From",
                    _change_url(obj.parent),
                    obj.parent.prompt[:60],
                    f" (automatic retry {obj.auto_retry} of {settings.LUMAWEB_AUTO_RETRY_MAX})"
                    if obj.auto_retry
                    else "",
                )
            )
        if obj.retried_as:
            parts.append(
                format_html(
                    '{}: <a href="{}">{}</a> (<a href="{}">in the studio</a>)',
                    obj.retry_note,
                    _change_url(obj.retried_as),
                    obj.retried_as.get_state_display(),
                    obj.retried_as.get_absolute_url(),
                )
            )
        return format_html_join(mark_safe("<br>"), "{}", ((p,) for p in parts)) or "—"

    @admin.display(description="inputs")
    def inputs(self, obj: Generation) -> SafeString | str:
        refs = list(_references(obj.request))
        if not refs:
            return "None: a prompt only."
        prior = {
            g.upstream_id: g
            for g in Generation.objects.filter(
                upstream_id__in=[v for _, k, v in refs if k == "generation_id"]
            ).prefetch_related("outputs")
        }
        rows = []
        for where, key, value in refs:
            source = prior.get(value) if key == "generation_id" else None
            if source is not None:
                first = next(iter(source.outputs.all()), None)
                picture = (
                    format_html('<img class="admin-thumb" src="{}" alt="">', thumbnail_url(first))
                    if first and not first.is_video and thumbnail_url(first)
                    else ""
                )
                shown = format_html(
                    '{} <a href="{}">{}</a>', picture, _change_url(source), source.prompt[:60]
                )
            elif key == "data":
                shown = format_html("inline data, {} characters", len(value))
            else:
                shown = format_html("<code>{}</code>", value)
            rows.append((where, key.replace("_", " "), shown))
        return format_html(
            '<table class="admin-inputs">{}</table>',
            format_html_join("", "<tr><th>{}</th><td>{}</td><td>{}</td></tr>", rows),
        )

    @admin.display(description="request as sent")
    def request_json(self, obj: Generation) -> SafeString:
        return _pretty(obj.request)

    @admin.display(description="latest reply")
    def upstream_json(self, obj: Generation) -> SafeString | str:
        return _pretty(obj.upstream) if obj.upstream else "No reply yet."

    @admin.display(description="request ids")
    def request_ids(self, obj: Generation) -> SafeString | str:
        ids = [rid for rid in obj.events.values_list("request_id", flat=True) if rid]
        ids = list(dict.fromkeys([*ids, obj.last_request_id] if obj.last_request_id else ids))
        return format_html_join(mark_safe("<br>"), "<code>{}</code>", ((i,) for i in ids)) or "—"

    @admin.display(description="events")
    def timeline(self, obj: Generation) -> SafeString:
        rows = (
            (
                event.at.strftime("%Y-%m-%d %H:%M:%S"),
                event.get_kind_display(),
                event.get_state_display(),
                event.request_id,
                _pretty(event.data) if event.data is not None else "",
            )
            for event in obj.events.all()
        )
        return format_html(
            '<table class="admin-timeline"><thead><tr><th>at</th><th>event</th><th>state</th>'
            "<th>request id</th><th>data</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                rows,
            ),
        )

    @admin.display(description="outputs")
    def outputs(self, obj: Generation) -> SafeString | str:
        items = []
        for output in obj.outputs.all():
            url = output.src()  # our copy, or Luma's link only while it is fresh
            if not url:
                media = NOT_ARCHIVED
            elif output.is_video:
                media = format_html(
                    '<video src="{}" controls muted preload="metadata"></video>', url
                )
            else:
                media = format_html('<img src="{}" alt="output {}">', url, output.index)
            label = output.layer.get("label", "") if output.layer else ""
            items.append(
                (
                    media,
                    output.index,
                    output.kind,
                    label,
                    output.url_expires_at.strftime("%H:%M"),
                )
            )
        if not items:
            return "None."
        return format_html(
            '<ul class="admin-outputs">{}</ul>',
            format_html_join(
                "",
                "<li>{}<span>#{} {} {} · link valid until {}</span></li>",
                items,
            ),
        )

    # --- actions on many jobs ---

    @admin.action(description="Retry: a new job with the same request", permissions=["change"])
    def retry_jobs(self, request: HttpRequest, queryset: QuerySet[Generation]) -> None:
        sent = already = refused = 0
        for generation in queryset:
            try:
                _, created = tasks.retry_now(generation, request.user)
            except retry.NotRetryable:
                refused += 1
                continue
            sent += created
            already += not created
        self._report(
            request,
            [
                (sent, "retried (the originals are marked reviewed)"),
                (already, "had been retried already: retry the retry to try again"),
                (refused, "could not be retried: only failed, unknown or stuck jobs can be"),
            ],
        )

    @admin.action(description="Refresh from upstream", permissions=["change"])
    def refresh_jobs(self, request: HttpRequest, queryset: QuerySet[Generation]) -> None:
        outcomes = Counter(tasks.refresh_later(generation) for generation in queryset)
        said = [f"{message} ({n} job{'s' if n != 1 else ''})" for message, n in outcomes.items()]
        self.message_user(request, " ".join(said) or "Nothing to do.")

    @admin.action(description="Mark reviewed (with the note)", permissions=["change"])
    def mark_reviewed(self, request: HttpRequest, queryset: QuerySet[Generation]) -> None:
        note = request.POST.get("note", "").strip()
        done = sum(g.mark_reviewed(request.user, note) for g in queryset)
        self._report(
            request,
            [(done, "marked reviewed"), (len(queryset) - done, "had been reviewed already")],
        )

    @admin.action(description="Reopen (back to needs review)", permissions=["change"])
    def reopen_jobs(self, request: HttpRequest, queryset: QuerySet[Generation]) -> None:
        done = sum(g.reopen(request.user) for g in queryset)
        self._report(request, [(done, "reopened"), (len(queryset) - done, "were not reviewed")])

    def _report(self, request: HttpRequest, outcomes: list[tuple[int, str]]) -> None:
        said = [f"{n} job{'s' if n != 1 else ''} {what}" for n, what in outcomes if n]
        self.message_user(request, "; ".join(said) + "." if said else "Nothing to do.")


def _change_url(generation: Generation) -> str:
    return reverse("admin:generations_generation_change", args=[generation.pk])


def _pretty(data: Any) -> SafeString:
    return format_html("<pre>{}</pre>", json.dumps(data, indent=2, ensure_ascii=False))


def _references(value: Any, where: str = "") -> Any:
    """Every image or video reference in a request: (where, kind, value)."""
    if isinstance(value, dict):
        keys = [key for key in REF_KEYS if key in value]
        if len(keys) == 1 and where:
            yield where, keys[0], str(value[keys[0]])
            return
        for key, item in value.items():
            yield from _references(item, f"{where}.{key}" if where else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _references(item, f"{where}[{index}]")


class PriceAdminForm(forms.ModelForm):
    """A price's provider, model and kind chosen from those jobs have: a typed one ("dream-
    machine", "Image", "photon-1 ") was saved, and never matched a job."""

    class Meta:
        model = Price
        fields = ["provider", "model", "kind", "resolution", "duration", "cents"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        known = {
            "provider": [(p.name, p.label) for p in providers.every()],
            # Dream Machine's upscale and audio jobs are named for what they did, by model.
            "model": [(m, m) for m in [*providers.models(), *NAMED_FOR_THEIR_WORK]],
            "kind": list(Kind.choices),
        }
        for name, choices in known.items():
            # An older row's own value stays among them: shown as it is, not as the first.
            own = getattr(self.instance, name) if self.instance.pk else ""
            if own and own not in dict(choices):
                choices.append((own, f"{own} (matches no job)"))
            self.fields[name] = forms.ChoiceField(choices=choices)


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    """The estimates every job's cost comes from (generations/spend.py): edit them as prices
    change. The seeded rows are estimates, not Luma's published prices."""

    form = PriceAdminForm
    # The price beside what it prices: at a laptop's width the later columns may scroll.
    list_display = ("provider", "model", "kind", "cents", "resolution", "duration")
    list_editable = ("cents",)
    list_filter = ("provider", "model", "kind")


@admin.register(PersonBudget)
class PersonBudgetAdmin(admin.ModelAdmin):
    """A person's own monthly budget, instead of LUMAWEB_PERSON_MONTHLY_BUDGET_USD."""

    list_display = ("user", "monthly_usd")
    autocomplete_fields = ("user",)


class BoardAdminForm(forms.ModelForm):
    """The admin's board form, refusing a name another board has as the studio's forms do."""

    class Meta:
        model = Board
        fields = ["name", "archived", "cover", "created_by", "created_at"]

    clean_name = BoardForm.clean_name


@admin.register(Board)
class BoardAdmin(admin.ModelAdmin):
    form = BoardAdminForm
    list_display = ("name", "created_by", "created_at", "archived")
    list_filter = ("archived",)
    search_fields = ("name",)
    raw_id_fields = ("cover",)


class StudioUserAdmin(UserAdmin):
    """Django's user admin, plus bringing a Dream Machine account's history in."""

    actions = ("import_dream_machine",)

    @admin.action(description="Import the Dream Machine history (as made by this person)")
    def import_dream_machine(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        if "dream_machine" not in settings.LUMA_PROVIDERS:
            self.message_user(request, "Dream Machine is not configured here.", messages.ERROR)
            return
        if queryset.count() != 1:
            self.message_user(request, "Pick one person: the history joins theirs.", messages.ERROR)
            return
        person = queryset.get()
        tasks.import_in_background.enqueue(person.pk)
        self.message_user(
            request,
            f"Importing in the background into {person}'s history; "
            "generations the studio already has are skipped.",
        )


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), StudioUserAdmin)
