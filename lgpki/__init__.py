"""LGPKI (地方公共団体組織認証基盤): bridge, organization and application CAs, GPKI cross-certification."""
