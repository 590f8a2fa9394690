async def test_info_without_credentials(emu, make_client):
    client = make_client(emu, user=None)
    reply = await client.get("/api/system/info")
    assert reply.status == 200
    assert reply.content_type == "application/json"
    assert reply.headers["Server"] == "HIP2.50.0.76.2"
    assert reply.result["macAddr"] == "7c-1e-b3-0a-2f-51"


async def test_switch_on_and_auto_off(make_emulator, make_client):
    from emulator.device.clock import VirtualClock

    clock = VirtualClock()
    emu = await make_emulator(clock=clock)
    api = make_client(emu)
    assert (await api.get("/api/switch/ctrl", switch=1, action="on")).json == {"success": True}
    status = (await api.get("/api/switch/status", switch=1)).result
    assert status["switches"][0]["active"] is True
    clock.advance(5)
    status = (await api.get("/api/switch/status", switch=1)).result
    assert status["switches"][0]["active"] is False
