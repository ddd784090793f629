"""WeCom 微信客服 adapter: encrypted callback, sync_msg pull with a durable cursor, send_msg channel."""
