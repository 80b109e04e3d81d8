#include "completion.hpp"

#include <map>
#include <set>
#include <sstream>
#include <vector>

namespace pcipass::cli {

namespace {

// What an option's value is, for completion.
struct ValueKind {
  enum Kind { flag, other, words, files, folders, guests } kind = flag;
  std::string choices;  // space-separated, for `words`
};

// The choices of a CLI::IsMember validator ("{auto,sysfs}"), as words.
std::string member_words(CLI::Option& option) {
  CLI::Validator* validator = nullptr;
  try {
    validator = option.get_validator();
  } catch (const CLI::OptionNotFound&) {
    return {};
  }
  if (validator == nullptr) return {};
  std::string text = validator->get_description();
  if (text.size() < 2 || text.front() != '{' || text.back() != '}') return {};
  text = text.substr(1, text.size() - 2);
  for (char& c : text) {
    if (c == ',') c = ' ';
  }
  return text;
}

ValueKind value_kind(CLI::Option& option) {
  if (option.get_items_expected_min() <= 0) return {};
  if (const std::string words = member_words(option); !words.empty())
    return {ValueKind::words, words};
  static const std::map<std::string, std::string> k_words = {
      {"technique", "first specific each roundrobin"},
  };
  const std::string type = option.get_type_name();
  for (const std::string& name : option.get_lnames()) {
    if (auto it = k_words.find(name); it != k_words.end()) return {ValueKind::words, it->second};
    if (name == "guest" || name == "guests") return {ValueKind::guests, {}};
    if (type == "DIR" || name.ends_with("-root") || name.ends_with("-dir"))
      return {ValueKind::folders, {}};
    if (type.find("FILE") != std::string::npos || name == "lspci" || name == "pci-ids" ||
        name == "xml" || name == "config" || name == "nodes" || name == "generated" ||
        name == "previous" || name == "host-usage" || name == "read" || name == "output")
      return {ValueKind::files, {}};
  }
  return {ValueKind::other, {}};
}

std::vector<CLI::App*> commands_of(CLI::App& app) {
  return app.get_subcommands([](CLI::App*) { return true; });
}

std::vector<std::string> names_of(CLI::Option& option) {
  std::vector<std::string> names;
  for (const std::string& n : option.get_snames()) names.push_back("-" + n);
  for (const std::string& n : option.get_lnames()) names.push_back("--" + n);
  return names;
}

std::vector<CLI::Option*> named_options(CLI::App& app) {
  return app.get_options([](CLI::Option* o) { return !o->get_positional(); });
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

// The bash `case` arm that completes the value of `option`, or "" for a
// flag. Words pcipass defines go through compgen -W; names from outside
// (guests) through _pcipass_reply, which never expands them.
std::string bash_value_arm(CLI::Option& option) {
  const ValueKind kind = value_kind(option);
  std::string action;
  switch (kind.kind) {
    case ValueKind::words:
      action = "COMPREPLY=($(compgen -W \"" + kind.choices + "\" -- \"$cur\"))";
      break;
    case ValueKind::files:
      action = "compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- \"$cur\")";
      break;
    case ValueKind::folders:
      action = "compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- \"$cur\")";
      break;
    case ValueKind::guests:
      action = "_pcipass_reply < <(_pcipass_guests)";
      break;
    case ValueKind::other:
      action = "COMPREPLY=()";
      break;
    default:
      return {};
  }
  std::string patterns;
  for (const std::string& n : names_of(option)) patterns += (patterns.empty() ? "" : "|") + n;
  return "      " + patterns + ") " + action + "; return ;;\n";
}

std::string bash(CLI::App& app) {
  std::ostringstream out;
  std::vector<std::string> globals;
  std::vector<std::string> global_values;
  // One arm per option spelling: commands share options (--config, ...).
  std::string value_arms;
  std::set<std::string> arms;
  const auto add_arm = [&](const std::string& arm) {
    if (!arm.empty() && arms.insert(arm).second) value_arms += arm;
  };
  for (CLI::Option* option : named_options(app)) {
    for (const std::string& n : names_of(*option)) {
      globals.push_back(n);
      if (option->get_items_expected_min() > 0) global_values.push_back(n);
    }
    add_arm(bash_value_arm(*option));
  }
  std::vector<std::string> names;
  std::string command_arms;
  std::string guest_first;
  for (CLI::App* command : commands_of(app)) {
    names.push_back(command->get_name());
    std::vector<std::string> options;
    for (CLI::Option* option : named_options(*command)) {
      for (const std::string& n : names_of(*option)) options.push_back(n);
      add_arm(bash_value_arm(*option));
    }
    command_arms += "      " + command->get_name() + ") opts=\"" + join(options) + "\" ;;\n";
    // attach and detach name a guest first; every other positional is a device.
    const auto positionals =
        command->get_options([](const CLI::Option* o) { return o->get_positional(); });
    if (!positionals.empty() && positionals.front()->get_name() == "GUEST")
      guest_first += (guest_first.empty() ? "" : "|") + command->get_name();
  }
  out << "# bash completion for pcipass, generated by `pcipass --completion bash`\n"
      << "# from its command-line definitions. Uses bash-completion's helpers when\n"
      << "# loaded (PCI addresses hold ':', which bash splits words at).\n"
      << "_pcipass_devices() {\n"
      << "  local d\n"
      << "  for d in /sys/bus/pci/devices/*; do [[ -e $d ]] && printf '%s\\n' \"${d##*/}\"; done\n"
      << "}\n"
      << "_pcipass_guests() {\n"
      << "  command -v virsh >/dev/null 2>&1 || return 0\n"
      << "  timeout 2 virsh -q list --all --name 2>/dev/null\n"
      << "}\n"
      << "# The lines of stdin that start with $cur, shell-quoted: a guest's name is\n"
      << "# data, never expanded, run or split.\n"
      << "_pcipass_reply() {\n"
      << "  local line quoted\n"
      << "  COMPREPLY=()\n"
      << "  while IFS= read -r line; do\n"
      << "    [[ -n $line && $line == \"$cur\"* ]] || continue\n"
      << "    printf -v quoted '%q' \"$line\"\n"
      << "    COMPREPLY+=(\"$quoted\")\n"
      << "  done\n"
      << "}\n"
      << "_pcipass_bash() {\n"
      << "  local cur prev words cword\n"
      << "  if [[ -n ${BASH_VERSION-} ]] && declare -F _get_comp_words_by_ref >/dev/null 2>&1; then\n"
      << "    _get_comp_words_by_ref -n =: cur prev words cword\n"
      << "  else\n"
      << "    words=(\"${COMP_WORDS[@]}\"); cword=$COMP_CWORD\n"
      << "    cur=\"${words[cword]}\"; prev=\"${words[cword-1]}\"\n"
      << "  fi\n"
      << "  local global_values=\" " << join(global_values) << " \"\n"
      << "  local globals=\"" << join(globals) << "\"\n"
      << "  local i w cmd=\"\" at=0\n"
      << "  for ((i = 1; i < cword; i++)); do\n"
      << "    w=\"${words[i]}\"\n"
      << "    if [[ -z $cmd && $global_values == *\" $w \"* ]]; then ((i++)); continue; fi\n"
      << "    [[ $w == -* ]] && continue\n"
      << "    if [[ -z $cmd ]]; then cmd=\"$w\"; at=$i; fi\n"
      << "  done\n"
      << "  if [[ $prev == -* ]]; then\n"
      << "    case \"$prev\" in\n"
      << value_arms << "    esac\n"
      << "  fi\n"
      << "  if [[ -z $cmd ]]; then\n"
      << "    if [[ $cur == -* ]]; then\n"
      << "      COMPREPLY=($(compgen -W \"$globals\" -- \"$cur\"))\n"
      << "    else\n"
      << "      COMPREPLY=($(compgen -W \"" << join(names) << "\" -- \"$cur\"))\n"
      << "    fi\n"
      << "    return\n"
      << "  fi\n"
      << "  local opts=\"\"\n"
      << "  case \"$cmd\" in\n"
      << command_arms << "  esac\n"
      << "  if [[ $cur == -* ]]; then\n"
      << "    COMPREPLY=($(compgen -W \"$opts $globals\" -- \"$cur\"))\n"
      << "  elif [[ \"$cmd\" == @(" << (guest_first.empty() ? std::string("-") : guest_first)
      << ") ]] && ((cword == at + 1)); then\n"
      << "    _pcipass_reply < <(_pcipass_guests)\n"
      << "  else\n"
      << "    _pcipass_reply < <(_pcipass_devices)\n"
      << "    if [[ -n ${BASH_VERSION-} ]] && declare -F __ltrim_colon_completions >/dev/null 2>&1; then\n"
      << "      __ltrim_colon_completions \"$cur\"\n"
      << "    fi\n"
      << "  fi\n"
      << "}\n"
      << "complete -F _pcipass_bash pcipass\n";
  return out.str();
}

std::string fish_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

std::string fish_option(CLI::Option& option, const std::string& condition) {
  std::string line = "complete -c pcipass -n " + fish_quote(condition);
  for (const std::string& n : option.get_snames()) line += " -s " + n;
  for (const std::string& n : option.get_lnames()) line += " -l " + n;
  const ValueKind kind = value_kind(option);
  switch (kind.kind) {
    case ValueKind::words: line += " -x -a " + fish_quote(kind.choices); break;
    case ValueKind::files: line += " -r -F"; break;
    case ValueKind::folders: line += " -x -a '(__fish_complete_directories)'"; break;
    case ValueKind::guests: line += " -x -a '(__pcipass_guests)'"; break;
    case ValueKind::other: line += " -x"; break;
    default: break;
  }
  std::string description = option.get_description();
  if (description.size() > 80) description = description.substr(0, 77) + "...";
  return line + " -d " + fish_quote(description) + "\n";
}

std::string fish(CLI::App& app) {
  std::ostringstream out;
  out << "# fish completion for pcipass, generated by `pcipass --completion fish`\n"
      << "# from its command-line definitions.\n"
      << "function __pcipass_guests\n"
      << "    command -q virsh; and timeout 2 virsh -q list --all --name 2>/dev/null\n"
      << "end\n"
      << "function __pcipass_devices\n"
      << "    for d in /sys/bus/pci/devices/*\n"
      << "        basename $d\n"
      << "    end\n"
      << "end\n"
      << "complete -c pcipass -f\n";
  std::vector<std::string> names;
  for (CLI::App* command : commands_of(app)) names.push_back(command->get_name());
  const std::string no_command = "not __fish_seen_subcommand_from " + join(names);
  // Global options work before and after the command.
  for (CLI::Option* option : named_options(app)) out << fish_option(*option, "true");
  for (CLI::App* command : commands_of(app)) {
    std::string description = command->get_description();
    if (description.size() > 80) description = description.substr(0, 77) + "...";
    out << "complete -c pcipass -n " << fish_quote(no_command) << " -a " << command->get_name()
        << " -d " << fish_quote(description) << "\n";
    const std::string in_command = "__fish_seen_subcommand_from " + command->get_name();
    for (CLI::Option* option : named_options(*command)) out << fish_option(*option, in_command);
    const auto positionals =
        command->get_options([](const CLI::Option* o) { return o->get_positional(); });
    const bool guest_first = !positionals.empty() && positionals.front()->get_name() == "GUEST";
    out << "complete -c pcipass -n " << fish_quote(in_command) << " -a "
        << (guest_first ? "'(__pcipass_guests) (__pcipass_devices)'" : "'(__pcipass_devices)'")
        << "\n";
  }
  return out.str();
}

}  // namespace

std::optional<std::string> completion_script(CLI::App& app, const std::string& shell) {
  if (shell == "bash") return bash(app);
  if (shell == "zsh") {
    // zsh runs the bash function through bashcompinit. Autoloaded from
    // fpath, this file is the body of _pcipass: the first TAB defines
    // everything and must complete too.
    return "#compdef pcipass\n# zsh completion for pcipass, generated by `pcipass --completion "
           "zsh`.\nautoload -U +X bashcompinit && bashcompinit\n" +
           bash(app) + "if (( ${+compstate} )); then _bash_complete -F _pcipass_bash; fi\n";
  }
  if (shell == "fish") return fish(app);
  return std::nullopt;
}

}  // namespace pcipass::cli
