"""The search agent of PAPER.md 2b: LLM-driven (tool calling or tagged text), the LLM-free non-oracle clue solver
(the offline default) and the chain-guided oracle (LLM-free, knows the chain).

``collect_trajectories`` runs any ``SearchAgent`` over questions with up to K attempts each and keeps the
first trajectory the outcome scorer accepts.
"""

from longtracerl.synth.agent.chain_guided import ChainGuidedAgent, question_keywords
from longtracerl.synth.agent.collect import CollectStats, SearchAgent, collect_trajectories, score_trajectory
from longtracerl.synth.agent.llm_agent import LLMSearchAgent
from longtracerl.synth.agent.solver import ClueSolver, parse_question
from longtracerl.synth.agent.text_protocol import ParseError, TextAction, parse_action
from longtracerl.synth.agent.tools import TOOL_SCHEMAS, ToolEnv

__all__ = [
    "TOOL_SCHEMAS",
    "ChainGuidedAgent",
    "ClueSolver",
    "CollectStats",
    "LLMSearchAgent",
    "ParseError",
    "SearchAgent",
    "TextAction",
    "ToolEnv",
    "collect_trajectories",
    "parse_action",
    "parse_question",
    "question_keywords",
    "score_trajectory",
]
