"""[cc-connect]: the ACD's Setvar + Redirect rings the agent; answer -> bridge; no answer ->
back to [cc-hold] with DIALSTATUS; the agent hanging up -> [cc-survey] when asked."""

from __future__ import annotations

from tests.dialplan.conftest import Centre, applications, event


async def held_call(centre: Centre, number: str = "+4930901821") -> str:
    caller = centre.call_in(number)
    await centre.held(caller.name)
    return caller.name


async def test_agent_answers_bridge_then_agent_hangs_up_ends_the_call(centre: Centre) -> None:
    centre.phone("1001", talk_time_mean=5, talk_time_min=5)
    caller = await held_call(centre)
    ami = centre.ami
    mark = ami.mark()
    await centre.connect(caller, "PJSIP/1001", CC_RING_TIMEOUT="15")
    await ami.wait_for(event("MusicOnHoldStop", caller), since=mark)
    begin = await ami.wait_for(event("DialBegin", caller), since=mark)
    agent = begin["DestChannel"]
    assert agent.startswith("PJSIP/1001-")
    end = await ami.wait_for(event("DialEnd", caller), since=mark)
    assert end["DialStatus"] == "ANSWER" and end["DestChannel"] == agent
    entered = [await ami.wait_for(event("BridgeEnter", who), since=mark) for who in (agent, caller)]
    assert entered[0]["BridgeUniqueid"] == entered[1]["BridgeUniqueid"]
    await ami.wait_for(event("Hangup", agent), since=mark)
    gone = await ami.wait_for(event("Hangup", caller), since=mark)
    assert gone["Cause"] == "16"
    dial = [d for ctx, app, d in applications(ami.of(caller, mark)) if app == "Dial"]
    # The stub IVR tagged i-1; U() gets the caller's Uniqueid and the endpoint.
    assert dial == [
        f"PJSIP/1001,15,gb(cc-agent-leg^s^1(i-1))U(cc-agent-answered^{begin['Uniqueid']}"
        "^PJSIP/1001)"
    ]
    after = [(ctx, app) for ctx, app, _ in applications(ami.of(caller, mark))]
    assert after[-2:] == [("cc-connect", "GotoIf"), ("cc-connect", "Hangup")]
    assert "cc-survey" not in {ctx for ctx, _ in after}


async def test_survey_after_the_agent_hangs_up(centre: Centre) -> None:
    assert centre.ivr is not None
    centre.phone("1002", talk_time_mean=5, talk_time_min=5)
    caller = await held_call(centre)
    ami = centre.ami
    mark = ami.mark()
    await centre.connect(caller, "PJSIP/1002", CC_SURVEY="1")
    await ami.wait_for(event("DialEnd", caller, DialStatus="ANSWER"), since=mark)
    await ami.wait_for(event("Newexten", caller, Context="cc-survey"), since=mark)
    await ami.wait_for(event("Hangup", caller), since=mark)
    survey = centre.ivr.visits[-1]
    assert (survey.script, survey.args, survey.channel) == ("ivr/csat", ["i-1"], caller)


async def test_caller_hanging_up_while_talking_skips_the_survey(centre: Centre) -> None:
    assert centre.ivr is not None
    centre.phone("1003")  # never hangs up by itself
    caller = await held_call(centre)
    ami = centre.ami
    mark = ami.mark()
    await centre.connect(caller, "PJSIP/1003", CC_SURVEY="1")
    begin = await ami.wait_for(event("DialBegin", caller), since=mark)
    await ami.wait_for(event("BridgeEnter", caller), since=mark)
    await ami.action({"Action": "Hangup", "Channel": caller, "Cause": "16"})
    await ami.wait_for(event("Hangup", begin["DestChannel"]), since=mark)
    await ami.wait_for(event("Hangup", caller), since=mark)
    assert [v.script for v in centre.ivr.visits] == ["ivr/main_menu"]


async def test_served_mark_is_left_at_the_answer_when_the_caller_hangs_up_first(
    centre: Centre,
) -> None:
    centre.phone("1003")  # never hangs up by itself
    caller = await held_call(centre)
    ami = centre.ami
    mark = ami.mark()
    await centre.connect(caller, "PJSIP/1003")
    begin = await ami.wait_for(event("DialBegin", caller), since=mark)
    leg, uniqueid = begin["DestChannel"], begin["Uniqueid"]
    await ami.wait_for(event("BridgeEnter", caller), since=mark)
    # [cc-agent-answered] ran on the agent's leg once it answered, before the caller's DialEnd
    # ANSWER and the bridge.
    seen = ami.events[mark:]
    answered = next(
        i for i, e in enumerate(seen) if event("Newstate", leg, ChannelStateDesc="Up")(e)
    )
    routine = [
        i for i, e in enumerate(seen) if event("Newexten", leg, Context="cc-agent-answered")(e)
    ]
    dial_end = next(
        i for i, e in enumerate(seen) if event("DialEnd", caller, DialStatus="ANSWER")(e)
    )
    assert routine and answered < routine[0] and routine[-1] < dial_end
    served = {"Action": "Getvar", "Variable": "CC_SERVED_PJSIP/1003"}
    assert (await ami.action(served)).get("Value") == uniqueid
    # The caller hangs up first: its dialplan ends inside Dial, and the mark stays.
    await ami.action({"Action": "Hangup", "Channel": caller, "Cause": "16"})
    await ami.wait_for(event("Hangup", leg), since=mark)
    await ami.wait_for(event("Hangup", caller), since=mark)
    assert (await ami.action(served)).get("Value") == uniqueid


async def test_agent_leg_invite_carries_the_interaction_header(centre: Centre) -> None:
    phone = centre.phone("1003", answer_delay=0.2)
    caller = await held_call(centre)
    ami = centre.ami
    mark = ami.mark()
    await centre.connect(caller, "PJSIP/1003", CC_INTERACTION_ID="01HZX4Q9M2")
    begin = await ami.wait_for(event("DialBegin", caller), since=mark)
    await ami.wait_for(event("BridgeEnter", caller), since=mark)
    assert phone.invites == [{"X-CC-Interaction": "01HZX4Q9M2"}]
    # The pre-dial handler ran on the agent's leg, before it rang, and returned.
    leg = begin["DestChannel"]
    steps = [(ctx, app) for ctx, app, _ in applications(ami.of(leg, mark))]
    assert ("cc-agent-leg", "Set") in steps and ("cc-agent-leg", "Return") in steps
    await ami.action({"Action": "Hangup", "Channel": caller, "Cause": "16"})
    await ami.wait_for(event("Hangup", caller), since=mark)
    # Without an interaction id the INVITE carries no header (and the call still rings).
    caller = await held_call(centre)
    mark = ami.mark()
    await centre.connect(caller, "PJSIP/1003", CC_INTERACTION_ID="")
    await ami.wait_for(event("BridgeEnter", caller), since=mark)
    assert phone.invites[-1] == {}


async def test_ring_no_answer_goes_back_to_hold_with_noanswer(centre: Centre) -> None:
    centre.phone("1004", no_answer_probability=1.0)
    caller = await held_call(centre)
    ami = centre.ami
    mark = ami.mark()
    await centre.connect(caller, "PJSIP/1004", CC_RING_TIMEOUT="5")
    begin = await ami.wait_for(event("DialBegin", caller), since=mark)
    ringing = await ami.wait_for(
        event("Newstate", begin["DestChannel"], ChannelStateDesc="Ringing"), since=mark
    )
    assert ringing["ChannelStateDesc"] == "Ringing"
    end = await ami.wait_for(event("DialEnd", caller), since=mark)
    assert end["DialStatus"] == "NOANSWER"
    moh = await centre.held(caller, since=mark)
    assert moh["Class"] == "cc-music"
    assert await ami.getvar(caller, "DIALSTATUS") == "NOANSWER"
    noop = [d for ctx, app, d in applications(ami.of(caller, mark)) if app == "NoOp"]
    assert "CC connect: PJSIP/1004 DIALSTATUS=NOANSWER" in noop


async def test_phone_offline_is_chanunavail_and_back_to_hold(centre: Centre) -> None:
    caller = await held_call(centre)
    ami = centre.ami
    mark = ami.mark()
    await centre.connect(caller, "PJSIP/1005")  # never registered
    await centre.held(caller, since=mark)
    assert await ami.getvar(caller, "DIALSTATUS") == "CHANUNAVAIL"
    assert not [e for e in ami.events[mark:] if e.get("Event") == "DialBegin"]


async def test_ring_timeout_defaults_when_missing_or_not_a_number(centre: Centre) -> None:
    centre.phone("1006", no_answer_probability=1.0)
    caller = await held_call(centre)
    ami = centre.ami
    for timeout in ("", "0", "abc", "20,,G(x)"):
        mark = ami.mark()
        await centre.connect(caller, "PJSIP/1006", CC_RING_TIMEOUT=timeout)
        await ami.wait_for(event("DialEnd", caller, DialStatus="NOANSWER"), since=mark)
        await centre.held(caller, since=mark)
        dial = [d for _, app, d in applications(ami.of(caller, mark)) if app == "Dial"]
        assert [d.split(",")[:2] for d in dial] == [["PJSIP/1006", "20"]], timeout  # default


async def test_endpoint_that_would_add_options_or_targets_is_refused(centre: Centre) -> None:
    centre.phone("1007")
    centre.phone("1008")
    caller = await held_call(centre)
    ami = centre.ami
    for endpoint in ("PJSIP/1007&PJSIP/1008", "PJSIP/1007,5,G(x)", "PJSIP/1007^x", "1007", ""):
        mark = ami.mark()
        await centre.connect(caller, endpoint)
        await centre.held(caller, since=mark)
        steps = applications(ami.of(caller, mark))
        assert "Dial" not in [app for _, app, _ in steps], endpoint
        assert f"CC connect: refused CC_AGENT_ENDPOINT '{endpoint}' - back to hold" in [
            d for _, app, d in steps if app == "NoOp"
        ]
    assert not [e for e in ami.events if e.get("Event") == "DialBegin"]


async def test_acd_caller_id_shown_to_the_agent_then_restored(centre: Centre) -> None:
    centre.phone("1009", no_answer_probability=1.0)
    caller = await held_call(centre)
    ami = centre.ami
    mark = ami.mark()
    await centre.connect(caller, "PJSIP/1009", CC_CALLER_ID="Billing VIP", CC_RING_TIMEOUT="3")
    begin = await ami.wait_for(event("DialBegin", caller), since=mark)
    # The phone shows the leg's connected line (the INVITE's From, as a real Asterisk sends
    # it); the leg's own caller id is the endpoint's.
    assert begin["DestConnectedLineName"] == "Billing VIP"
    assert begin["DestConnectedLineNum"] == "4930555123"  # the number stays the customer's
    await centre.held(caller, since=mark)
    assert await ami.getvar(caller, "CALLERID(name)") == "Customer"


async def test_redirect_back_to_hold_while_ringing_cancels_the_dial(centre: Centre) -> None:
    centre.phone("1010", no_answer_probability=1.0)
    caller = await held_call(centre)
    ami = centre.ami
    mark = ami.mark()
    await centre.connect(caller, "PJSIP/1010", CC_RING_TIMEOUT="600")
    begin = await ami.wait_for(event("DialBegin", caller), since=mark)
    await ami.redirect(caller, "cc-hold")
    await ami.wait_for(event("Hangup", begin["DestChannel"]), since=mark)
    await centre.held(caller, since=mark)
    end = await ami.wait_for(event("DialEnd", caller), since=mark)
    assert end["DialStatus"] == "CANCEL"
