from core.plugin_api import OutboxWork, outbox_handler
from tests.core.plugins.fake_greeter.tables import Greeting

TOPIC = "greeter.record"


@outbox_handler(TOPIC)
async def record(work: OutboxWork) -> None:
    await Greeting.insert(Greeting(text=str(work.payload["text"])))
