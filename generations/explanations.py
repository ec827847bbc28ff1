"""Plain-language explanations of every way a job can fail.

Each failure code has a title and advice for the person who submitted the job, and a suggested
fix for the admin who triages it. Whether a code is retried automatically is decided in
`generations/retry.py`; the words here only describe it.
"""

from dataclasses import astuple, dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from generations import providers


@dataclass(frozen=True)
class Explanation:
    title: str | Promise
    advice: str | Promise
    # What an admin can do about it, shown on the triage page and in the admin.
    fix: str | Promise = ""


EXPLANATIONS = {
    # The nine failure codes of Luma's API.
    "content_moderated": Explanation(
        _("Blocked by content moderation"),
        _(
            "{upstream}'s safety filter refused the prompt or one of the images. Rephrase the "
            "prompt or use other images, then send it again: the same request would be refused "
            "again."
        ),
        _(
            "Never retried automatically: the same request is refused again. If it looks like "
            "a false positive, edit and resubmit with different wording or inputs."
        ),
    ),
    "generation_failed": Explanation(
        _("The model failed this time"),
        _(
            "A temporary failure on {upstream}'s side. Jobs like this are retried automatically; "
            "if it still fails, try again later or change the prompt a little."
        ),
        _(
            "Transient: retried automatically with backoff, up to the cap. If a whole chain "
            "of retries fails, retry once more later or edit and resubmit."
        ),
    ),
    "budget_exhausted": Explanation(
        _("Out of credit"),
        _(
            "The team's {upstream} account has run out of credit. An admin has to top it up; your "
            "job can be retried after that."
        ),
        _(
            "Top up the {upstream} account (or raise its budget), then retry these jobs. Never "
            "retried automatically: every attempt fails until there is credit again."
        ),
    ),
    "output_not_found": Explanation(
        _("The result went missing"),
        _(
            "{upstream} finished the job but could not find its result. Jobs like this are retried "
            "automatically; if it still fails, try again."
        ),
        _("Transient: retried automatically with backoff. If it persists, retry later."),
    ),
    "image_too_large": Explanation(
        _("An input is too large"),
        _(
            "One of your images or videos is larger than {upstream} accepts. Use a smaller one "
            "(fewer pixels or a shorter clip) and send it again."
        ),
        _(
            "An input exceeds {upstream}'s limits; the same request fails again. Edit and resubmit "
            "with a smaller input."
        ),
    ),
    "unsupported_format": Explanation(
        _("An input's format is not supported"),
        _(
            "{upstream} cannot read one of your files. Use PNG, JPEG or WebP images and MP4 "
            "videos, then send it again."
        ),
        _("Convert the input to a supported format, then edit and resubmit."),
    ),
    "corrupt_input": Explanation(
        _("An input file is damaged"),
        _(
            "One of your files could not be read: it may be cut short or broken. Export it "
            "again, upload it and send the job again."
        ),
        _("Re-export or re-upload the damaged file, then edit and resubmit."),
    ),
    "invalid_request": Explanation(
        _("{upstream} refused the request"),
        _(
            "Some of the settings cannot be used together, or an input cannot be used here. "
            "Change the settings using the reason shown and send it again."
        ),
        _(
            "Read {upstream}'s reason and edit and resubmit. If our form allowed a combination "
            "{upstream} refuses, report it: the form should refuse it before anything is sent."
        ),
    ),
    "rate_limited": Explanation(
        _("Too many jobs at once"),
        _(
            "{upstream} was busy with too many of the team's jobs and dropped this one. Jobs like "
            "this are retried automatically after a wait."
        ),
        _(
            "Transient: retried automatically after a wait. If it happens often, the team "
            "runs more jobs at once than the account allows: ask {upstream} for a higher limit."
        ),
    ),
    # Our own codes, for what happens around the upstream.
    "outcome_unknown": Explanation(
        _("We lost track of this job"),
        _(
            "The request reached {upstream} but its answer never came back, so it may or may not "
            "be running (and charged). An admin checks these before anything is sent again."
        ),
        _(
            "{upstream} may have made and charged this job, but its id never reached us, so it "
            "cannot be looked up. Never retried automatically: check {upstream}'s usage for a job "
            "at this time and retry only if it was not made."
        ),
    ),
    "archive_failed": Explanation(
        _("The result could not be saved"),
        _(
            "The job finished, but copying the result to our own storage failed. An admin "
            "will look at it; until then the result may disappear when {upstream}'s link expires."
        ),
        _(
            "Check the storage settings and the worker's log. Within an hour of completion, "
            "refresh from upstream to get a fresh link to archive; after that, retry the job."
        ),
    ),
    "upload_refused": Explanation(
        _("An upload was refused"),
        _(
            "One of your files was not accepted: too large, of the wrong type, or "
            "unreadable. Use a supported image or video within the limits and try again."
        ),
        _(
            "The reason names the file and the limit. Edit and resubmit with a valid file; "
            "retrying the same request is refused again."
        ),
    ),
    "upstream_refused": Explanation(
        _("{upstream} refused our credentials"),
        _(
            "{upstream} refused the studio's API key or plan. An admin has to fix it; your job can "
            "be retried after that."
        ),
        _(
            "Check {key} and the account's plan or suspension with {upstream}, then "
            "retry these jobs."
        ),
    ),
    "upstream_unavailable": Explanation(
        _("{upstream} could not be reached"),
        _(
            "{upstream} was unavailable for a while, so the job was never sent. Jobs like this are "
            "retried automatically; if it still fails, try again later."
        ),
        _(
            "Transient: retried automatically with backoff. If many jobs fail like this, "
            "check the server's network and {upstream}'s status page."
        ),
    ),
    "cancelled": Explanation(
        _("Cancelled"),
        _(
            "Its owner or an admin stopped waiting for it. {upstream} may still have made it, but "
            "this studio no longer follows it; Remix sends it again."
        ),
        _("Cancelled by a person: nothing to fix. It is never retried automatically."),
    ),
    "upstream_lost": Explanation(
        _("{upstream} forgot this job"),
        _("{upstream} no longer knows this job, so its result cannot be fetched. Send it again."),
        _(
            "{upstream} answers 404 for its id. Retry it. If it happens often, check that the API "
            "key has not changed: jobs belong to the key that made them."
        ),
    ),
}
UNKNOWN = Explanation(
    _("Something went wrong"),
    _("Remix sends it again; if it keeps failing, tell an admin."),
    _(
        "A failure code we do not know yet: read {upstream}'s reason, then retry or edit and "
        "resubmit."
    ),
)


# Where no one upstream is meant (the triage page's group of several upstreams' jobs).
ANY_UPSTREAM = "Luma"
ANY_KEY = (
    "the API key of the jobs' upstream (LUMA_AGENTS_API_KEY, LUMAAI_API_KEY or LUMA_PROXY_API_KEY)"
)


def explain(code: str, provider: str = "") -> Explanation:
    """The explanation for a failure code (a generic one for codes we do not know yet) in the
    words of `provider`, the upstream that had the job: its name, the setting of its key."""
    found = EXPLANATIONS.get(code, UNKNOWN)
    upstream = providers.display_name(provider) or ANY_UPSTREAM
    key = providers.key_setting(provider) or ANY_KEY
    said = [str(text).format(upstream=upstream, key=key) for text in astuple(found)]
    return Explanation(*said)
