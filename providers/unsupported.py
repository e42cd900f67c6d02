"""Sellers of GPT Image 2 this app cannot call, and why: shown on the routes page so users see
the whole market, not only what we integrate."""

UNSUPPORTED = (
    {
        "name": "Picsart",
        "why": "GPT Image 2 is offered through Picsart's gen-ai CLI, MCP server and JS SDK, behind an "
               "OAuth or API-key login; the REST protocol underneath is not documented, so there is "
               "nothing we could call and verify.",
        "source": "PicsArt/picsart-mcp-cli-docs wiki, Provider-Openai",
    },
    {
        "name": "ChatGPT (consumer app) and Sora",
        "why": "Subscriptions for people, not APIs: no programmatic access to compare.",
        "source": "OpenAI product pages",
    },
    {
        "name": "Look-alike sites (gptimg.co, gpt-image-2.art, gptimage2api.org)",
        "why": "Each has its own incompatible API, and at least one relays to Kie.ai, which is "
               "supported directly; comparing a relay of a relay measures nothing new.",
        "source": "their documentation pages",
    },
)
