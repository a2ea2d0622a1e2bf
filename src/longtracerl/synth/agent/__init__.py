"""The search agent of PAPER.md 2b: LLM-driven (tool calling or tagged text) and chain-guided (LLM-free).

``collect_trajectories`` runs any ``SearchAgent`` over questions with up to K attempts each and keeps the
first trajectory the outcome scorer accepts.
"""

from longtracerl.synth.agent.chain_guided import ChainGuidedAgent, question_keywords
from longtracerl.synth.agent.collect import CollectStats, SearchAgent, collect_trajectories, score_trajectory
from longtracerl.synth.agent.llm_agent import LLMSearchAgent
from longtracerl.synth.agent.text_protocol import ParseError, TextAction, parse_action
from longtracerl.synth.agent.tools import TOOL_SCHEMAS, ToolEnv

__all__ = [
    "TOOL_SCHEMAS",
    "ChainGuidedAgent",
    "CollectStats",
    "LLMSearchAgent",
    "ParseError",
    "SearchAgent",
    "TextAction",
    "ToolEnv",
    "collect_trajectories",
    "parse_action",
    "question_keywords",
    "score_trajectory",
]
