from decimal import Decimal

from django.db import migrations

# Estimates in US cents for Dream Machine API and gateway jobs, to be corrected in the admin
# (Prices), as migration 0011's are for the Agents API: without a row, their jobs counted $0 and
# no money budget ever stopped them. Video prices scale with pixels and seconds (a 9 s video
# costs 1.8 times a 5 s one); Ray Flash 2 about a third of Ray 2; a blank option means any.
VIDEO_5S = {
    "ray-2": {"": 70, "540p": 40, "720p": 70, "1080p": 160, "4k": 640},
    "ray-flash-2": {"": 24, "540p": 13, "720p": 24, "1080p": 53, "4k": 213},
}
IMAGE = {"photon-1": 2, "photon-flash-1": 1}
UPSCALE = {"": 30, "1080p": 30, "4k": 60}
AUDIO = 10
GATEWAY = 40  # a reseller's price per video varies: one figure for any


def seeded_rows():
    rows = []
    for model, by_resolution in VIDEO_5S.items():
        for resolution, cents in by_resolution.items():
            rows.append(("dream_machine", "video", model, resolution, "", cents))
            rows.append(("dream_machine", "video", model, resolution, "9s", cents * Decimal("1.8")))
        for kind in ("video_reframe", "video_edit"):  # reframe_video, modify_video
            rows.append(("dream_machine", kind, model, "", "", by_resolution[""]))
    for model, cents in IMAGE.items():
        for kind in ("image", "image_edit"):  # image, reframe_image
            rows.append(("dream_machine", kind, model, "", "", cents))
    for resolution, cents in UPSCALE.items():
        rows.append(("dream_machine", "video_edit", "upscale_video", resolution, "", cents))
    rows.append(("dream_machine", "video_edit", "add_audio", "", "", AUDIO))
    rows.append(("proxy", "video", "luma (gateway)", "", "", GATEWAY))
    return rows


def seed_prices(apps, schema_editor):
    Price = apps.get_model("generations", "Price")
    # A row an admin already added for the same options is theirs: it stays as it is.
    Price.objects.bulk_create(
        (
            Price(provider=p, kind=k, model=m, resolution=r, duration=d, cents=c)
            for p, k, m, r, d, c in seeded_rows()
        ),
        ignore_conflicts=True,
    )


def unseed_prices(apps, schema_editor):
    """Only the rows this migration seeds, at its figures: an admin's own rows stay."""
    Price = apps.get_model("generations", "Price")
    for p, k, m, r, d, c in seeded_rows():
        Price.objects.filter(
            provider=p, kind=k, model=m, resolution=r, duration=d, cents=c
        ).delete()


class Migration(migrations.Migration):
    dependencies = [("generations", "0019_board_folded_name")]

    operations = [migrations.RunPython(seed_prices, unseed_prices)]
