from agent_softphone.cli import main

main()
