#include "usage_errors.hpp"

#include <pcipass/core/text.hpp>

#include <algorithm>

namespace pcipass::cli {

namespace {

// Optimal string alignment distance: insertions, deletions, substitutions
// and swaps of two neighbouring letters ("lsit" is 1 from "list").
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

std::vector<std::string> command_names(CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
    names.push_back(sub->get_name());
  return names;
}

// "--name" of every long option of `app`.
void add_long_options(const CLI::App& app, std::vector<std::string>& out) {
  for (const CLI::Option* option : app.get_options()) {
    for (const std::string& name : option->get_lnames()) out.push_back("--" + name);
  }
}

// Whether `token` is an option of `app` that takes a value (so the next
// argument is that value, not a command).
bool takes_value(const CLI::App& app, std::string_view token) {
  for (const CLI::Option* option : app.get_options()) {
    if (option->get_items_expected_min() <= 0) continue;
    for (const std::string& name : option->get_lnames())
      if (token == "--" + name) return true;
    for (const std::string& name : option->get_snames())
      if (token == "-" + name) return true;
  }
  return false;
}

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& word : words) out += (out.empty() ? "" : ", ") + word;
  return out;
}

}  // namespace

std::optional<std::string> nearest_word(std::string_view word, const std::vector<std::string>& known) {
  // Options are compared without their dashes ("--abc" is not near "--all").
  const auto bare = [](std::string_view w) { return w.substr(std::min(w.find_first_not_of('-'), w.size())); };
  std::optional<std::string> best;
  std::size_t best_distance = 0;
  for (const std::string& candidate : known) {
    const std::size_t distance = edit_distance(bare(word), bare(candidate));
    if (distance == 0 || distance > 2 || distance * 2 >= bare(word).size()) continue;
    if (!best || distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::string explain_usage_error(CLI::App& app, const std::vector<std::string>& args,
                                const std::string& what) {
  const std::vector<std::string> commands = command_names(app);
  std::vector<std::string> globals;
  add_long_options(app, globals);
  std::size_t at = 0;
  for (; at < args.size(); ++at) {
    const std::string& token = args[at];
    if (token == "--") return what;
    if (!token.starts_with("-")) break;
    // A global option misspelt before the command (its value would be
    // taken for the command otherwise).
    const std::string name = token.substr(0, token.find('='));
    if (name.starts_with("--") && std::find(globals.begin(), globals.end(), name) == globals.end()) {
      std::string message = "unknown option " + core::quote_for_message(name);
      if (auto near = nearest_word(name, globals)) message += " (did you mean '" + *near + "'?)";
      return message;
    }
    if (token.find('=') == std::string::npos && takes_value(app, token)) ++at;
  }
  if (at >= args.size()) return what;
  const std::string& word = args[at];
  if (std::find(commands.begin(), commands.end(), word) == commands.end()) {
    std::string message = "unknown command " + core::quote_for_message(word);
    if (auto near = nearest_word(word, commands)) message += " (did you mean '" + *near + "'?)";
    return message + "; the commands are " + joined(commands);
  }
  // A long option the command does not know.
  CLI::App* command = app.get_subcommand(word);
  std::vector<std::string> options;
  add_long_options(app, options);
  add_long_options(*command, options);
  for (std::size_t i = at + 1; i < args.size(); ++i) {
    const std::string& token = args[i];
    if (token == "--") break;
    if (!token.starts_with("--")) continue;
    const std::string name = token.substr(0, token.find('='));
    if (std::find(options.begin(), options.end(), name) != options.end()) continue;
    if (what.find(name) == std::string::npos) continue;  // not what CLI11 stumbled on
    std::string message = word + ": unknown option " + core::quote_for_message(name);
    if (auto near = nearest_word(name, options)) message += " (did you mean '" + *near + "'?)";
    return message;
  }
  return what;
}

std::string short_usage(CLI::App& app) {
  return "Usage: pcipass [OPTIONS] COMMAND [ARGS...]\nCommands: " + joined(command_names(app)) +
         "\n'pcipass COMMAND --help' shows a command's options, 'pcipass --help' the global "
         "ones and the exit codes.\n";
}

}  // namespace pcipass::cli
