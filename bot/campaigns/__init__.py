"""Organisations' registration campaigns: roster, invite link, progress, reminders.

Channel-free like ``bot/service.py``: the CLI (``bot/cli/org.py``) and the Telegram
adapter call ``CampaignService``; nothing here imports ``telegram``.
"""
