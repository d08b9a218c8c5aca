"""`groundswell demo` gives a newcomer a living instance to look around in."""

from core.demo import PETITIONS, load_demo
from core.petitions import counter
from core.petitions.tables import Petition, Signature


async def test_demo_data_loads_once_and_looks_alive(client):
    summary = await load_demo()
    assert summary.startswith(f"Loaded {len(PETITIONS)} demo petitions")
    assert await Petition.count().where(Petition.status == "published") == len(PETITIONS)
    assert await Signature.count() == sum(p.signatures for p in PETITIONS)
    first = await Petition.objects().order_by(Petition.id).first()
    assert await counter.total(first.id) == PETITIONS[0].signatures

    assert "already loaded" in await load_demo()
    assert await Signature.count() == sum(p.signatures for p in PETITIONS)

    listing = (await client.get("/petitions")).text
    assert "Reopen the Riverside footbridge" in listing
    assert "Riverside Council" in (await client.get("/groups")).text
