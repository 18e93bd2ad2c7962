"""Guardians register their children (issue 11).

A child under 15, or under 18 without an ID card, gets a VssID account through a parent or
guardian: the seeds' «Áp dụng đối với người dưới 15 tuổi» and «Đăng ký cho con dưới 18 tuổi
chưa được cấp căn cước công dân». This package holds what is particular to that: who may be
registered by a guardian (``ages``), the child's declaration as a machine built from the
adult's step declarations (``machine``), and a guardian new to the bot proving their e-mail
with a code before it (``proof``).
"""
