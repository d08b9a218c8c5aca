"""The public petition pages: directory, petition page, and signing in one request."""

from core.petitions import counter
from core.petitions.service import close_petition
from core.petitions.signing import SignatureInput, sign
from core.petitions.stats import refresh_stats
from core.petitions.tables import Signature
from tests.support.forms import submit
from tests.support.petitions import published_petition

FORM = {"name": "Sam Signer", "email": "sam@example.org", "postal_code": "AB1 2CD"}


async def test_a_petition_page_shows_text_targets_progress_and_social_meta(client):
    petition = await published_petition(goal=10, summary="Reopen the bridge for school children.")
    page = await client.get(f"/p/{petition.slug}")
    assert page.status_code == 200
    html = page.text
    assert petition.title in html
    assert "Jane Mayor, Mayor of Riverside" in html
    assert "of 10" in html
    assert '<meta property="og:title" content="Fix the Riverside footbridge now">' in html
    assert 'name="twitter:card"' in html
    assert "?source=share-whatsapp" in html.replace("%3Fsource%3D", "?source=")


async def test_signing_takes_one_request_and_shows_thanks(client):
    petition = await published_petition()
    response = await submit(
        client,
        f"/p/{petition.slug}",
        f"/p/{petition.slug}/sign",
        {**FORM, "keep_updated": "1", "source": "share-x"},
    )
    assert response.status_code == 200
    assert "Thank you for signing" in response.text
    assert await counter.total(petition.id) == 1
    signature = await Signature.objects().first()
    assert signature.source == "share-x"


async def test_signing_again_says_you_already_signed(client):
    petition = await published_petition()
    await submit(client, f"/p/{petition.slug}", f"/p/{petition.slug}/sign", FORM)
    again = await submit(
        client, f"/p/{petition.slug}", f"/p/{petition.slug}/sign", {**FORM, "email": " SAM@example.org "}
    )
    assert "You already signed" in again.text
    assert await counter.total(petition.id) == 1


async def test_recent_signers_show_first_name_and_area_only(client):
    petition = await published_petition()
    await sign(
        petition.id, SignatureInput(name="Alexandra Quince", email="aq@example.org", postal_code="XY9 8ZZ")
    )
    html = (await client.get(f"/p/{petition.slug}")).text
    assert "Alexandra, XY9" in html
    assert "Quince" not in html
    assert "aq@example.org" not in html


async def test_html_and_script_in_fields_are_rendered_inert(client):
    petition = await published_petition(
        body="Look <script>alert(1)</script> and [click](javascript:alert(2)) **now** please ok."
    )
    await sign(petition.id, SignatureInput(name="<b>Eve</b><script>x()</script>", email="eve@example.org"))
    html = (await client.get(f"/p/{petition.slug}")).text
    assert "<script>alert(1)" not in html
    assert 'href="javascript:' not in html
    assert "<strong>now</strong>" in html
    assert "<b>Eve</b>" not in html and "&lt;b&gt;Eve" in html


async def test_the_honeypot_thanks_bots_and_stores_nothing(client):
    petition = await published_petition()
    response = await submit(
        client, f"/p/{petition.slug}", f"/p/{petition.slug}/sign", {**FORM, "website": "http://spam.example"}
    )
    assert response.status_code == 200
    assert await Signature.count() == 0


async def test_bad_input_on_the_sign_form_is_a_clear_400(client):
    petition = await published_petition()
    response = await submit(
        client, f"/p/{petition.slug}", f"/p/{petition.slug}/sign", {**FORM, "email": "nope"}
    )
    assert response.status_code == 400
    assert "not a valid email address" in response.text
    response = await submit(
        client, f"/p/{petition.slug}", f"/p/{petition.slug}/sign", {**FORM, "name": "n" * 10_000}
    )
    assert response.status_code == 400
    assert await Signature.count() == 0


async def test_a_closed_petition_shows_no_form_and_refuses_signatures(client):
    petition = await published_petition()
    page = await client.get(f"/p/{petition.slug}")
    await close_petition(petition.id)
    closed = await client.get(f"/p/{petition.slug}")
    assert "no longer takes signatures" in closed.text
    from tests.support.forms import csrf_token_in

    response = await client.post(
        f"/p/{petition.slug}/sign", data={**FORM, "_csrf_token": csrf_token_in(page.text)}
    )
    assert response.status_code == 410


async def test_unknown_petitions_are_404(client):
    assert (await client.get("/p/no-such-petition")).status_code == 404


async def test_the_directory_searches_filters_and_sorts(client):
    bridge = await published_petition()
    library = await published_petition("Keep the library open on Sundays")
    local = await published_petition("Safer crossing on Elm Street", scope_kind="postal", scope_value="AB1")
    for i in range(3):
        await sign(library.id, SignatureInput(name="S", email=f"l{i}@example.org"))
    await sign(bridge.id, SignatureInput(name="S", email="b@example.org"))
    await refresh_stats()

    listing = (await client.get("/petitions")).text
    assert listing.index("Keep the library") < listing.index("Fix the Riverside")
    found = (await client.get("/petitions?q=library")).text
    assert "Keep the library" in found and "Riverside" not in found
    near = (await client.get("/petitions?postal_code=AB1+2CD")).text
    assert "Elm Street" in near
    far = (await client.get("/petitions?postal_code=ZZ9")).text
    assert "Elm Street" not in far and "Keep the library" in far
    assert local.slug in near
    await close_petition(bridge.id)
    assert "Fix the Riverside" not in (await client.get("/petitions")).text
    assert "Fix the Riverside" in (await client.get("/petitions?state=closed")).text


async def test_the_home_page_lists_growing_petitions(client):
    petition = await published_petition()
    await sign(petition.id, SignatureInput(name="S", email="s@example.org"))
    await refresh_stats()
    assert petition.title in (await client.get("/")).text


async def test_the_directory_filters_by_group(client):
    from core.groups.service import create_group

    riverside = await create_group("Riverside Council")
    await published_petition(group_id=riverside.id)
    await published_petition("Keep the library open on Sundays")
    page = (await client.get(f"/petitions?group={riverside.id}")).text
    assert "Fix the Riverside footbridge" in page and "Keep the library" not in page
    assert "Keep the library" in (await client.get("/petitions?group=nonsense")).text
